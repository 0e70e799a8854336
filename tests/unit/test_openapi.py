"""The OpenAPI document: valid 3.1 structure, committed copy current, equal to the routers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from shared.api_contract import ACCOUNT_OPERATIONS, CALENDAR_OPERATIONS, mobile_api_document, render
from shared.errors import ErrorCode

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
METHODS = {"get", "put", "post", "delete", "patch"}


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_document_is_structurally_valid_openapi_3_1() -> None:
    doc = mobile_api_document()
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] and doc["info"]["version"]
    schemas = doc["components"]["schemas"]
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in schemas, ref
    operation_ids = []
    for path, item in doc["paths"].items():
        assert path.startswith("/")
        templated = set(re.findall(r"\{([a-z_]+)\}", path))
        for method, op in item.items():
            assert method in METHODS
            operation_ids.append(op["operationId"])
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == templated, (method, path)
            for param in op.get("parameters", []):
                assert param["in"] in {"path", "query", "header"} and "schema" in param
            assert op["responses"], (method, path)
            for status, response in op["responses"].items():
                assert re.fullmatch(r"[1-5]\d\d|default", status)
                assert response["description"]
            if "requestBody" in op:
                assert "application/json" in op["requestBody"]["content"]
    assert len(operation_ids) == len(set(operation_ids))
    error = schemas["Error"]["properties"]["error"]["properties"]["code"]["enum"]
    assert set(error) == {code.value for code in ErrorCode}


def test_committed_document_is_current() -> None:
    assert COMMITTED.read_text() == render(), (
        "docs/openapi.json is stale: python -m shared.api_contract > docs/openapi.json"
    )
    assert json.loads(COMMITTED.read_text()) == mobile_api_document()


@pytest.mark.parametrize(
    ("module", "operations"),
    [
        ("functions.account_api", ACCOUNT_OPERATIONS),
        ("functions.calendar_api", CALENDAR_OPERATIONS),
    ],
)
def test_every_route_is_documented_and_nothing_else(module: str, operations: list[Any]) -> None:
    router = __import__(module, fromlist=["router"]).router
    routes = {(route.method, route.template): route.auth for route in router.routes}
    documented = {op.key: op.auth for op in operations}
    assert routes == documented
    paths = mobile_api_document()["paths"]
    for method, path in routes:
        assert method.lower() in paths[path], (method, path)
