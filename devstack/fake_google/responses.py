"""Building Flask responses: JSON with Google's content type, and handler results."""

from __future__ import annotations

import json
from typing import Any

from flask import Response

from devstack.fake_google.errors import GoogleApiError
from devstack.fake_google.registry import ApiResponse, HandlerResult


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with Google's content type."""
    return Response(
        json.dumps(body),
        status=status,
        headers=headers or {},
        content_type="application/json; charset=UTF-8",
    )


def error_response(error: GoogleApiError) -> Response:
    """A Google-shaped API error response."""
    return json_response(error.to_json(), error.code, error.headers)


def handler_result_response(result: HandlerResult) -> Response:
    """A handler's result as sent: dict/list → JSON 200, None → 204, ApiResponse as given."""
    if result is None:
        return Response(status=204)
    if not isinstance(result, ApiResponse):
        return json_response(result)
    if result.raw is not None:
        return Response(
            result.raw,
            status=result.status,
            headers=result.headers,
            content_type=result.content_type,
        )
    if result.body is None:
        return Response(status=result.status, headers=result.headers)
    return json_response(result.body, result.status, result.headers)
