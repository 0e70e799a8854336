"""Applying queued faults: delays, dropped connections and injected error answers."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable
from typing import Any

from flask import Response

from devstack.fake_google.errors import GoogleApiError
from devstack.fake_google.responses import json_response
from devstack.fake_google.state import Fault

# Google's OAuth error code for an injected HTTP status when the fault names none.
_DEFAULT_OAUTH_ERROR = {400: "invalid_grant", 401: "invalid_client", 429: "rate_limit_exceeded"}


def api_fault_body(fault: Fault) -> dict[str, Any]:
    """The Google-shaped API error an injected fault answers with."""
    return GoogleApiError(fault.status, fault.message, fault.error_reason).to_json()


def oauth_fault_body(fault: Fault) -> dict[str, Any]:
    """The OAuth-shaped error an injected fault on the token or revoke endpoint answers with."""
    default = _DEFAULT_OAUTH_ERROR.get(fault.status, "internal_failure")
    return {
        "error": fault.oauth_error or default,
        "error_description": fault.message or "Injected by the fake Google server.",
    }


def _drop_connection(environ: dict[str, Any]) -> Response:
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        # The server's write then fails with a broken pipe, which werkzeug treats as the
        # client going away: the client sees the connection closed with no response.
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    # Only reached in full by in-process test clients, which have no socket to close.
    return json_response(GoogleApiError(504, "Connection dropped by fault.").to_json(), 504)


def apply_fault(
    fault: Fault,
    environ: dict[str, Any],
    render_body: Callable[[Fault], dict[str, Any]],
) -> Response | None:
    """Sleep as the fault says, then return the answer to send, or None to handle normally.

    Status 0 drops the connection, a 2xx status means "answer normally but late", anything
    else answers `render_body(fault)` with that status (and Retry-After when given).
    Call it without holding the state lock: it may sleep.
    """
    if fault.delay_seconds > 0:
        time.sleep(fault.delay_seconds)
    if fault.status == 0:
        return _drop_connection(environ)
    if 200 <= fault.status < 300:
        return None
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    return json_response(render_body(fault), fault.status, headers)
