"""Regression tests of inputs that once caused a 500 or a Pub/Sub retry loop (issue 15):
each is now the entry point's normal rejection, and changes nothing."""

from __future__ import annotations

import base64
import json

import pytest
import requests

from devstack.drivers.events import push
from devstack.drivers.linking import all_documents, api
from devstack.drivers.push import device_body, new_token
from tests.e2e.conftest import LinkedUser, RunningStack

EVENT_FUNCTIONS = ["gmail_receiver", "watch_maintenance", "push_dispatch"]
NESTED = b"[" * 5000 + b"]" * 5000


@pytest.mark.parametrize("webhook", ["calendar_webhook", "drive_webhook"])
@pytest.mark.parametrize("channel_id", ["__x__", "..", "__abc__"])
def test_reserved_channel_id_is_the_normal_401(
    stack: RunningStack, linked: LinkedUser, webhook: str, channel_id: str
) -> None:
    stack.google.reset_calls()
    before = dict(all_documents(stack.db))
    response = requests.post(
        stack.function_url(webhook),
        headers={
            "X-Goog-Channel-ID": channel_id,
            "X-Goog-Channel-Token": "secret",
            "X-Goog-Resource-ID": "resource",
            "X-Goog-Resource-State": "exists",
            "X-Goog-Message-Number": "1",
        },
        timeout=20,
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthenticated"
    assert dict(all_documents(stack.db)) == before
    assert stack.google.calls() == []


@pytest.mark.parametrize("function", EVENT_FUNCTIONS)
@pytest.mark.parametrize(
    "data",
    [
        NESTED,
        json.dumps({"emailAddress": "a@b.example", "historyId": 1e999}).encode(),
        json.dumps({"emailAddress": "a@b.example", "historyId": 2**70}).encode(),
        b'{"emailAddress": "\\ud800@b.example", "historyId": 5}',
        b'{"task": "\\ud800"}',
        b"\xff\xfe not utf-8",
    ],
    ids=["nested", "infinite", "huge", "surrogate", "surrogate_task", "bytes"],
)
def test_poison_message_is_acknowledged(
    stack: RunningStack, linked: LinkedUser, function: str, data: bytes
) -> None:
    stack.google.reset_calls()
    response = push(stack.function_url(function), data)
    assert 200 <= response.status_code < 300, response.text
    assert stack.google.calls() == []


def test_push_job_with_reserved_or_out_of_range_values_is_acknowledged(
    stack: RunningStack, linked: LinkedUser
) -> None:
    job = {
        "job_id": "j1",
        "uid": linked.uid,
        "item_id": "i1",
        "kind": "mail.received",
        "created_at": "2026-01-01T00:00:00Z",
    }
    for change in (
        {"uid": "__x__"},
        {"item_id": ".."},
        {"job_id": "a/b"},
        {"created_at": "0001-01-01T00:00:00+14:00"},
    ):
        response = push(stack.function_url("push_dispatch"), json.dumps(job | change).encode())
        assert 200 <= response.status_code < 300, (change, response.text)


def _token(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


@pytest.mark.parametrize(
    "query",
    [
        "since=0001-01-01T00:00:00%2B14:00",
        "since=9999-12-31T23:59:59-14:00",
        "page_token="
        + base64.urlsafe_b64encode(
            json.dumps(["0001-01-01T00:00:00+14:00", "x"]).encode()
        ).decode(),
        "page_token="
        + base64.urlsafe_b64encode(json.dumps(["2026-01-01T00:00:00Z", "__x__"]).encode()).decode(),
        "page_token=" + base64.urlsafe_b64encode(b"[" * 5000).decode(),
        "limit=99999999999999999999999",
    ],
)
def test_out_of_range_query_is_a_400(stack: RunningStack, linked: LinkedUser, query: str) -> None:
    response = api(stack.function_url("account_api"), "GET", f"/v1/activity?{query}", linked.auth)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize("device_id", ["__abcdefg__", "__________"])
def test_reserved_device_id_is_a_400(
    stack: RunningStack, linked: LinkedUser, device_id: str
) -> None:
    account = stack.function_url("account_api")
    before = dict(all_documents(stack.db))
    body = device_body(new_token(stack.seen))
    response = api(account, "PUT", f"/v1/devices/{device_id}", linked.auth, json=body)
    assert response.status_code == 400, response.text
    assert dict(all_documents(stack.db)) == before
    assert api(account, "DELETE", f"/v1/devices/{device_id}", linked.auth).status_code == 400
