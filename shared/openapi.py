"""OpenAPI 3.1 documents built from a table of operations and their pydantic models.

The error responses come from the one error table (``shared.errors``): every documented
status lists the stable codes it carries, and every error body has the same schema.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from shared.errors import HTTP_STATUS, ErrorCode

REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Header:
    """A request header an operation reads."""

    name: str
    pattern: str
    description: str


@dataclass(frozen=True)
class Operation:
    """One route: method, path template, models and the error codes it may answer."""

    method: str
    path: str
    summary: str
    response: type[BaseModel] | None = None
    status: int = 200
    # Further success statuses with the same body (e.g. 200 for a replayed create).
    also: tuple[int, ...] = ()
    # True: the response is a JSON object without a fixed schema.
    free_form: bool = False
    auth: bool = True
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    path_patterns: dict[str, str] = field(default_factory=dict)
    headers: tuple[Header, ...] = ()
    errors: tuple[ErrorCode, ...] = ()
    etag: bool = False
    # A model the 412 body carries as `current` (the item as it is now).
    stale_model: type[BaseModel] | None = None
    tag: str = "api"

    @property
    def key(self) -> tuple[str, str]:
        """(METHOD, path template)."""
        return self.method.upper(), self.path

    @property
    def operation_id(self) -> str:
        """``get_v1_devices_device_id``: the OpenAPI operationId and the handler's name in
        its router."""
        path = self.path.strip("/").replace("/", "_").replace("{", "").replace("}", "")
        return f"{self.method.lower()}_{path}".replace(".", "_").rstrip("_")


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "enum": [code.value for code in ErrorCode]},
                    "message": {"type": "string"},
                    "field": {"type": "string", "description": "The offending input."},
                    "retry_after": {"type": "integer", "description": "Seconds to wait."},
                },
                "additionalProperties": False,
            }
        },
        "additionalProperties": False,
    }


def _codes(operation: Operation) -> list[ErrorCode]:
    codes = [ErrorCode.NOT_FOUND, ErrorCode.METHOD_NOT_ALLOWED, ErrorCode.INTERNAL]
    if operation.auth:
        codes.append(ErrorCode.UNAUTHENTICATED)
    if operation.body or operation.query or operation.path_patterns or operation.headers:
        codes.append(ErrorCode.INVALID_REQUEST)
    if operation.body:
        codes += [ErrorCode.PAYLOAD_TOO_LARGE, ErrorCode.UNSUPPORTED_MEDIA_TYPE]
    codes += [code for code in operation.errors if code not in codes]
    return codes


def _schemas(operations: Iterable[Operation]) -> tuple[dict[Any, Any], dict[str, Any]]:
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = []
    for op in operations:
        for model, mode in (
            (op.body, "validation"),
            (op.query, "validation"),
            (op.response, "serialization"),
            (op.stale_model, "serialization"),
        ):
            if model is not None and (model, mode) not in wanted:
                wanted.append((model, mode))  # type: ignore[arg-type]
    refs, defs = models_json_schema(wanted, ref_template=REF)
    return refs, dict(defs.get("$defs", {}))


def _parameters(op: Operation, refs: dict[Any, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "pattern": p}}
        for name, p in op.path_patterns.items()
    ]
    if op.query is not None:
        ref = refs[(op.query, "validation")]["$ref"].rsplit("/", 1)[1]
        schema = defs[ref]
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            param: dict[str, Any] = {"name": name, "in": "query", "required": name in required}
            if "description" in prop:
                param["description"] = prop["description"]
            param["schema"] = {k: v for k, v in prop.items() if k not in ("description", "title")}
            params.append(param)
    params += [
        {
            "name": header.name,
            "in": "header",
            "required": False,
            "description": header.description,
            "schema": {"type": "string", "pattern": header.pattern},
        }
        for header in op.headers
    ]
    return params


def _error_responses(op: Operation) -> dict[str, Any]:
    by_status: dict[int, list[str]] = {}
    for code in _codes(op):
        by_status.setdefault(int(HTTP_STATUS[code]), []).append(code.value)
    responses: dict[str, Any] = {}
    for status, codes in sorted(by_status.items()):
        schema: dict[str, Any] = {"$ref": REF.format(model="Error")}
        if status == 412 and op.stale_model is not None:
            schema = {"$ref": REF.format(model="StaleVersionError")}
        response: dict[str, Any] = {
            "description": "Error codes: " + ", ".join(codes) + ".",
            "content": {"application/json": {"schema": schema}},
        }
        if status in (429, 503):
            response["headers"] = {
                "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}}
            }
        responses[str(status)] = response
    return responses


def _success(op: Operation, refs: dict[Any, Any]) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if op.etag:
        headers["ETag"] = {"description": "The event's version.", "schema": {"type": "string"}}
    if op.response is not None:
        content = {"application/json": {"schema": refs[(op.response, "serialization")]}}
    elif op.free_form:
        content = {"application/json": {"schema": {"type": "object"}}}
    else:
        content = {}
    response: dict[str, Any] = {"description": op.summary}
    if content:
        response["content"] = content
    if headers:
        response["headers"] = headers
    return {str(status): response for status in (op.status, *op.also)}


def build_document(
    operations: list[Operation], *, title: str, version: str, description: str
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of these operations."""
    refs, defs = _schemas(operations)
    defs["Error"] = _error_schema()
    stale = next((op.stale_model for op in operations if op.stale_model), None)
    if stale is not None:
        error = _error_schema()
        error["properties"]["current"] = refs[(stale, "serialization")]
        defs["StaleVersionError"] = error
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        entry: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "security": [{"firebase": []}] if op.auth else [],
            "responses": {**_success(op, refs), **_error_responses(op)},
        }
        parameters = _parameters(op, refs, defs)
        if parameters:
            entry["parameters"] = parameters
        if op.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {
            "schemas": dict(sorted(defs.items())),
            "securitySchemes": {
                "firebase": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A Firebase Authentication ID token of the signed-in user.",
                }
            },
        },
    }
