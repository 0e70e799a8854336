"""The baseline for cold starts: a bare functions-framework hello world."""

from __future__ import annotations

import flask
import functions_framework


@functions_framework.http
def hello(request: flask.Request) -> str:
    """Answer every request."""
    return "hello"
