"""Request ids are ours; trace ids come only from well-formed trace headers, and every log
line of a request (and of the push job a notification caused) carries the trace."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import flask
import pytest
from pydantic import ValidationError

from shared.activity import Kind, PushJob
from shared.http import Caller, RequestContext, Router
from shared.logs import TRACE_FIELD, JsonFormatter, current_trace_id, trace_scope
from shared.openapi import Operation
from shared.tracing import request_scope, trace_id

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PROJECT = "demo-uplus"

OPERATIONS = [
    Operation("GET", "/v1/traced", "test", auth=False),
]
router = Router(OPERATIONS, max_body_bytes=100)
app = flask.Flask(__name__)


@router.handles("get_v1_traced")
def traced(ctx: RequestContext) -> dict[str, str | None]:
    logging.getLogger("tests.traced").info("handled")
    return {"trace": current_trace_id()}


class NoAuth:
    def verify(self, token: str) -> Caller:
        raise AssertionError("not called")


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Records of the block, formatted as the functions write them (project demo-uplus)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(PROJECT))
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def entries(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def call(headers: dict[str, str]) -> flask.Response:
    with app.test_request_context("/v1/traced", headers=headers):
        return router.dispatch(flask.request, NoAuth())


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"}, TRACE),
        ({"traceparent": f" 00-{TRACE}-00f067aa0ba902b7-00 "}, TRACE),
        ({"X-Cloud-Trace-Context": f"{TRACE}/12345;o=1"}, TRACE),
        ({"X-Cloud-Trace-Context": TRACE.upper()}, TRACE),
        ({"X-Cloud-Trace-Context": f"{TRACE}/1"}, TRACE),
        # traceparent wins; a malformed traceparent falls back to X-Cloud-Trace-Context.
        (
            {
                "traceparent": f"00-{TRACE}-00f067aa0ba902b7-01",
                "X-Cloud-Trace-Context": "a" * 32,
            },
            TRACE,
        ),
        ({"traceparent": "garbage", "X-Cloud-Trace-Context": TRACE}, TRACE),
        ({}, None),
        ({"traceparent": f"00-{'0' * 32}-00f067aa0ba902b7-01"}, None),  # all-zero trace
        ({"traceparent": f"00-{TRACE}-{'0' * 16}-01"}, None),  # all-zero parent
        ({"traceparent": f"ff-{TRACE}-00f067aa0ba902b7-01"}, None),  # invalid version
        ({"traceparent": f"00-{TRACE.upper()}-00f067aa0ba902b7-01"}, None),  # uppercase
        ({"traceparent": f"00-{TRACE}a-00f067aa0ba902b7-01"}, None),  # 33 digits
        ({"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01-extra"}, None),
        ({"X-Cloud-Trace-Context": "0" * 32}, None),
        ({"X-Cloud-Trace-Context": f"{TRACE[:-1]}/1;o=1"}, None),  # 31 digits
        ({"X-Cloud-Trace-Context": f"{TRACE}/abc"}, None),
        ({"X-Cloud-Trace-Context": f"{TRACE}/1;o=1\nforged"}, None),
        ({"X-Cloud-Trace-Context": f"{TRACE}\u0660"}, None),
    ],
)
def test_trace_id_is_taken_only_from_well_formed_headers(
    headers: dict[str, str], expected: str | None
) -> None:
    assert trace_id(headers) == expected


def test_a_traced_request_logs_every_line_under_its_trace(log_lines: io.StringIO) -> None:
    response = call({"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"})
    assert response.get_json() == {"trace": TRACE}
    (entry,) = [e for e in entries(log_lines) if e["message"] == "handled"]
    assert entry[TRACE_FIELD] == f"projects/{PROJECT}/traces/{TRACE}"
    assert entry["execution_id"] == response.headers["X-Request-Id"]


def test_an_untraced_request_logs_no_trace(log_lines: io.StringIO) -> None:
    call({"X-Cloud-Trace-Context": "not-a-trace"})
    (entry,) = [e for e in entries(log_lines) if e["message"] == "handled"]
    assert TRACE_FIELD not in entry


def test_request_ids_are_ours_whatever_the_caller_sends(log_lines: io.StringIO) -> None:
    forged = "forged-id-chosen-by-the-caller"
    response = call({"Function-Execution-Id": forged, "X-Request-Id": forged})
    request_id = response.headers["X-Request-Id"]
    assert request_id != forged and len(request_id) == 16
    assert forged not in log_lines.getvalue()
    assert call({}).headers["X-Request-Id"] != request_id, "a new id per request"


def test_request_scope_restores_the_outer_context() -> None:
    with trace_scope("b" * 32):
        with request_scope({"X-Cloud-Trace-Context": TRACE}):
            assert current_trace_id() == TRACE
        with request_scope({}):
            assert current_trace_id() is None
        assert current_trace_id() == "b" * 32


def test_push_jobs_carry_only_a_well_formed_trace() -> None:
    base = {
        "job_id": "j",
        "uid": "u",
        "item_id": "i",
        "kind": Kind.MAIL_RECEIVED,
        "created_at": datetime.now(UTC),
    }
    assert PushJob.model_validate(base).trace_id is None
    assert PushJob.model_validate({**base, "trace_id": TRACE}).trace_id == TRACE
    with pytest.raises(ValidationError):
        PushJob.model_validate({**base, "trace_id": "projects/x/traces/forged"})
