"""The OpenAPI document: valid 3.1 structure, committed copy current, equal to the routers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from functions.account_routes import ACCOUNT_OPERATIONS
from functions.api_document import (
    mobile_api_document,
    render,
)
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
        "docs/openapi.json is stale: python -m functions.api_document > docs/openapi.json"
    )
    assert json.loads(COMMITTED.read_text()) == mobile_api_document()


@pytest.mark.parametrize("module", ["functions.account_api", "functions.calendar_api"])
def test_every_declared_operation_is_served_and_documented(module: str) -> None:
    router = __import__(module, fromlist=["router"]).router
    served = [route.operation for route in router.routes]  # a missing handler raises here
    assert served == list(router.operations.values())
    paths = mobile_api_document()["paths"]
    for operation in served:
        if operation.path != "/openapi.json":
            assert operation.method.lower() in paths[operation.path], operation.key


def test_a_handler_reads_only_what_its_operation_declares() -> None:
    import flask

    from shared.http import Caller, RequestContext
    from shared.services.devices import DeviceRegistration

    declared = next(op for op in ACCOUNT_OPERATIONS if op.operation_id == "get_v1_me")
    app = flask.Flask(__name__)
    with app.test_request_context("/v1/me", json={}):
        ctx = RequestContext(flask.request, {}, Caller("u1"), 100, declared)
        with pytest.raises(TypeError):
            ctx.json_body(DeviceRegistration)
        with pytest.raises(TypeError):
            ctx.query(DeviceRegistration)
