"""Trace correlation and request ids through the running functions: a traced notification's
log lines, the push job it causes and push dispatch's lines for that job all carry its trace;
a caller cannot choose the request id (``X-Request-Id``, the logs' ``execution_id``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests

from devstack.drivers.pubsub import collect, eventually
from devstack.drivers.push import dispatch_log
from devstack.drivers.watch import calendar_change, feed, live_channel
from tests.e2e.conftest import PROJECT_ID, LinkedUser, RunningStack

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACE_FIELD = "logging.googleapis.com/trace"
FORGED = "forged-by-the-caller-0001"
EVENT = {
    "summary": "Trace review",
    "start": {"dateTime": "2026-12-01T10:00:00+09:00"},
    "end": {"dateTime": "2026-12-01T11:00:00+09:00"},
}


def _log(workdir: Path, function: str) -> list[dict[str, Any]]:
    path = workdir / "logs" / f"{function}.log"
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def test_a_traced_notification_is_followed_to_push_dispatch(
    stack: RunningStack, linked: LinkedUser
) -> None:
    channel = live_channel(stack.urls.fake_google, "calendar", linked.google["sub"])
    requests.post(
        f"{stack.urls.fake_google}/_control/calendar/channels/{channel['id']}/drop_next",
        json={"count": 1},
        timeout=5,
    ).raise_for_status()
    calendar_change(stack.urls.fake_google, linked.google["sub"], "insert", event=EVENT)

    headers = {
        "X-Goog-Channel-ID": channel["id"],
        "X-Goog-Channel-Token": channel["token"],
        "X-Goog-Resource-ID": channel["resourceId"],
        "X-Goog-Resource-State": "exists",
        "X-Goog-Message-Number": "7",
        "traceparent": f"00-{TRACE}-00f067aa0ba902b7-01",
        "Function-Execution-Id": FORGED,
    }
    response = requests.post(
        f"{stack.function_url('calendar_webhook')}/", headers=headers, timeout=30
    )
    assert response.status_code == 200
    request_id = response.headers["X-Request-Id"]
    assert request_id != FORGED

    (job,) = collect(stack.push_jobs, 1)
    assert job["trace_id"] == TRACE
    eventually(lambda: len(feed(stack.function_url("account_api"), linked.auth)) == 1)

    expected = f"projects/{PROJECT_ID}/traces/{TRACE}"
    webhook = [
        e for e in _log(stack.workdir, "calendar_webhook") if e.get("execution_id") == request_id
    ]
    assert webhook, "the webhook logged its sync pass"
    assert all(entry[TRACE_FIELD] == expected for entry in webhook)

    eventually(
        lambda: any(
            e["message"] == "push job handled" for e in dispatch_log(stack.workdir, job["job_id"])
        )
    )
    dispatched = dispatch_log(stack.workdir, job["job_id"])
    assert dispatched and all(entry[TRACE_FIELD] == expected for entry in dispatched)


def test_a_forged_execution_id_appears_neither_in_the_response_nor_in_the_logs(
    stack: RunningStack,
) -> None:
    for function, path in (("account_api", "/v1/me"), ("calendar_api", "/v1/calendars")):
        response = requests.get(
            f"{stack.function_url(function)}{path}",
            headers={"Function-Execution-Id": FORGED, "X-Request-Id": FORGED},
            timeout=10,
        )
        assert response.status_code == 401
        assert FORGED not in response.headers["X-Request-Id"]
        assert FORGED not in response.text
    response = requests.get(
        f"{stack.function_url('oauth_callback')}/",
        params={"state": "x" * 43, "code": "c"},
        headers={"Function-Execution-Id": FORGED},
        timeout=10,
    )
    assert response.status_code == 400
    for log in (stack.workdir / "logs").glob("*.log"):
        assert FORGED not in log.read_text(), log.name
