"""The HTTP entry layer: routing, authentication, validation and the error table."""

from __future__ import annotations

import json
import logging

import flask
import pytest
from pydantic import BaseModel, ConfigDict, Field

from shared.errors import HTTP_STATUS, AppError, ErrorCode
from shared.http import Caller, Reply, RequestContext, Router
from shared.openapi import Operation


class FakeAuthenticator:
    """Accepts the token 'good' as user 'u1'."""

    def verify(self, token: str) -> Caller:
        if token != "good":
            raise AppError(ErrorCode.UNAUTHENTICATED, "The Firebase ID token is invalid.")
        return Caller(uid="u1")


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=10)


OPERATIONS = [
    Operation("GET", "/v1/items/{item_id}", "test"),
    Operation("POST", "/v1/items", "test", body=Item),
    Operation("GET", "/v1/public", "test", auth=False),
    Operation("GET", "/v1/boom", "test", auth=False),
    Operation("GET", "/v1/limited", "test", auth=False),
]
router = Router(OPERATIONS, max_body_bytes=100)


@router.handles("get_v1_items_item_id")
def get_item(ctx: RequestContext) -> dict[str, str]:
    return {"id": ctx.path_params["item_id"], "owner": ctx.uid}


@router.handles("post_v1_items")
def create_item(ctx: RequestContext) -> Reply:
    item = ctx.json_body(Item)
    return Reply(body=item, status=201, headers={"ETag": '"1"'})


@router.handles("get_v1_public")
def public(ctx: RequestContext) -> dict[str, bool]:
    return {"ok": True}


@router.handles("get_v1_boom")
def boom(ctx: RequestContext) -> dict[str, str]:
    raise RuntimeError("secret detail someone@example.com")


@router.handles("get_v1_limited")
def limited(ctx: RequestContext) -> dict[str, str]:
    raise AppError(ErrorCode.RATE_LIMITED, "Slow down.", retry_after=7)


app = flask.Flask(__name__)


def call(method: str, path: str, **kwargs: object) -> flask.Response:
    with app.test_request_context(path, method=method, **kwargs):
        return router.dispatch(flask.request, FakeAuthenticator())


def body(response: flask.Response) -> dict[str, object]:
    return dict(json.loads(response.get_data()))


def test_every_error_code_has_a_status() -> None:
    assert set(HTTP_STATUS) == set(ErrorCode)


def test_missing_and_bad_tokens_are_401() -> None:
    assert call("GET", "/v1/items/a").status_code == 401
    response = call("GET", "/v1/items/a", headers={"Authorization": "Bearer bad"})
    assert response.status_code == 401
    assert body(response)["error"] == {
        "code": "unauthenticated",
        "message": "The Firebase ID token is invalid.",
    }
    assert call("GET", "/v1/items/a", headers={"Authorization": "Basic good"}).status_code == 401


def test_path_params_and_caller() -> None:
    response = call("GET", "/v1/items/abc", headers={"Authorization": "Bearer good"})
    assert response.status_code == 200
    assert body(response) == {"id": "abc", "owner": "u1"}
    assert response.headers["Cache-Control"] == "no-store"


def test_validation_names_the_field_without_echoing_input() -> None:
    response = call(
        "POST",
        "/v1/items",
        headers={"Authorization": "Bearer good"},
        json={"name": "far-too-long-name", "x": 1},
    )
    assert response.status_code == 400
    error = body(response)["error"]
    assert isinstance(error, dict)
    assert error["code"] == "invalid_request"
    assert error["field"] == "name"
    assert "far-too-long-name" not in response.get_data(as_text=True)


def test_created_reply_with_headers() -> None:
    response = call(
        "POST", "/v1/items", headers={"Authorization": "Bearer good"}, json={"name": "a"}
    )
    assert response.status_code == 201
    assert response.headers["ETag"] == '"1"'
    assert body(response) == {"name": "a"}


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"data": "{}", "content_type": "text/plain"}, 415, "unsupported_media_type"),
        ({"data": "x" * 101, "content_type": "application/json"}, 413, "payload_too_large"),
        ({"data": "{not json", "content_type": "application/json"}, 400, "invalid_request"),
    ],
)
def test_body_checks(kwargs: dict[str, object], status: int, code: str) -> None:
    response = call("POST", "/v1/items", headers={"Authorization": "Bearer good"}, **kwargs)
    assert response.status_code == status
    error = body(response)["error"]
    assert isinstance(error, dict) and error["code"] == code


def test_routing_errors() -> None:
    assert body(call("GET", "/nope"))["error"] == {"code": "not_found", "message": "No such route."}
    response = call("DELETE", "/v1/public")
    assert response.status_code == 405


def test_unknown_exception_is_generic_500_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        response = call("GET", "/v1/boom")
    assert response.status_code == 500
    assert body(response) == {"error": {"code": "internal", "message": "Internal error."}}
    assert "secret detail" not in response.get_data(as_text=True)
    assert any(record.message == "unhandled error" for record in caplog.records)


def test_retry_after_header() -> None:
    response = call("GET", "/v1/limited")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
