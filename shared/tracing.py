"""Request ids and trace ids of HTTP requests.

The request id (``X-Request-Id``, the logs' ``execution_id``) is always generated here: a
header a caller sends, ``Function-Execution-Id`` included, never becomes it, so nobody can
choose what the logs are correlated by.

The trace id comes from the request's trace context, kept only when it is well formed:
- W3C ``traceparent: 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>``
  (https://www.w3.org/TR/trace-context/#traceparent-header; version ``00``, lowercase hex,
  the all-zero trace and parent ids are invalid);
- else Google's ``X-Cloud-Trace-Context: <32 hex TRACE_ID>/<decimal SPAN_ID>;o=<0|1>``
  (https://cloud.google.com/trace/docs/trace-context#legacy-http-header; span and options
  optional), trace id not all zeros.
Cloud Run's front end sets both headers on requests it serves, continuing a caller's valid
trace, so the platform's request log and our lines share the trace.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from shared.logs import execution_scope, trace_scope

_TRACEPARENT = re.compile(r"00-(?P<trace>[0-9a-f]{32})-(?P<parent>[0-9a-f]{16})-[0-9a-f]{2}")
_CLOUD_TRACE = re.compile(r"(?P<trace>[0-9a-fA-F]{32})(?:/[0-9]{1,20})?(?:;o=[01])?")
_ZERO_TRACE = "0" * 32


class Headers(Protocol):
    """Request headers, case-insensitive (werkzeug's ``Headers``, or a plain dict in tests)."""

    def get(self, key: str, /) -> str | None: ...


def trace_id(headers: Headers) -> str | None:
    """The request's trace id (32 lowercase hex digits), or None when absent or malformed."""
    traceparent = headers.get("traceparent")
    if traceparent is not None:
        found = _TRACEPARENT.fullmatch(traceparent.strip())
        if found and found["trace"] != _ZERO_TRACE and found["parent"] != "0" * 16:
            return found["trace"]
    cloud = headers.get("X-Cloud-Trace-Context")
    if cloud is not None:
        found = _CLOUD_TRACE.fullmatch(cloud.strip())
        if found and found["trace"] != _ZERO_TRACE:
            return found["trace"].lower()
    return None


def new_request_id() -> str:
    """A fresh request id: 16 random hex digits."""
    return uuid.uuid4().hex[:16]


@contextmanager
def request_scope(headers: Headers) -> Iterator[str]:
    """Tag every log line of one HTTP request with a new request id and the request's trace;
    yields the request id (for ``X-Request-Id``)."""
    request_id = new_request_id()
    with execution_scope(request_id), trace_scope(trace_id(headers)):
        yield request_id
