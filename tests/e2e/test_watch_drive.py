"""Drive activity: fake Drive channel → drive_webhook → changes.list → feed items + jobs."""

from __future__ import annotations

from typing import Any

import requests

from devstack.drivers.linking import api
from devstack.drivers.pubsub import collect, eventually, wait_len
from devstack.drivers.watch import drive_file, feed, live_channel
from tests.e2e.conftest import LinkedUser, RunningStack


def _files(stack: RunningStack, method: str, path: str = "", **body: Any) -> dict[str, Any]:
    return drive_file(stack.urls.fake_google, method, path, **body)


def _feed(stack: RunningStack, user: LinkedUser) -> list[dict[str, Any]]:
    return feed(stack.function_url("account_api"), user.auth)


def _channel(stack: RunningStack) -> dict[str, Any]:
    return live_channel(stack.urls.fake_google, "drive")


def _jobs(stack: RunningStack, expected: int) -> list[dict[str, Any]]:
    return collect(stack.push_jobs, expected)


def test_create_change_trash_delete_are_classified(stack: RunningStack, linked: LinkedUser) -> None:
    sub = linked.google["sub"]
    created = _files(stack, "POST", sub=sub, name="Budget 2027.xlsx", actor="Kim Team")
    eventually(lambda: len(_feed(stack, linked)) == 1)
    file_id = created["file_id"]
    _files(stack, "PATCH", f"/{file_id}", name="Budget 2027 v2.xlsx", actor="Kim Team")
    eventually(lambda: len(_feed(stack, linked)) == 2)
    other = _files(stack, "POST", sub=sub, name="Notes.txt")
    eventually(lambda: len(_feed(stack, linked)) == 3)
    _files(stack, "POST", f"/{other['file_id']}/trash")
    eventually(lambda: len(_feed(stack, linked)) == 4)
    _files(stack, "DELETE", f"/{file_id}")
    items = wait_len(lambda: _feed(stack, linked), 5)
    kinds = [(item["kind"], item["resource_id"]) for item in reversed(items)]
    assert kinds == [
        ("drive.created", file_id),
        ("drive.renamed", file_id),
        ("drive.created", other["file_id"]),
        ("drive.trashed", other["file_id"]),
        ("drive.deleted", file_id),
    ]
    assert items[-1]["title"] == "Budget 2027.xlsx" and items[-1]["actor"] == "Kim Team"
    assert items[0].get("title") is None  # a permanent delete comes without a file object
    assert len(_jobs(stack, 5)) == 5


def test_duplicate_and_dropped_notifications(stack: RunningStack, linked: LinkedUser) -> None:
    sub = linked.google["sub"]
    _files(stack, "POST", sub=sub, name="a.txt", notify="duplicate")
    eventually(lambda: len(_feed(stack, linked)) == 1)
    _files(stack, "POST", sub=sub, name="b.txt", notify="drop")
    _files(stack, "POST", sub=sub, name="c.txt")  # its sync also picks up the dropped one
    eventually(lambda: len(_feed(stack, linked)) == 3)
    assert len(_jobs(stack, 3)) == 3


def test_invalid_page_token_restarts_from_a_new_start_token(
    stack: RunningStack, linked: LinkedUser
) -> None:
    sub = linked.google["sub"]
    _files(stack, "POST", sub=sub, name="lost.txt", notify="drop")
    requests.post(
        f"{stack.urls.fake_google}/_control/drive/invalidate_page_tokens",
        json={"sub": sub},
        timeout=5,
    ).raise_for_status()
    stack.google.reset_calls()
    _files(stack, "POST", sub=sub, name="seen by the restart.txt")
    eventually(
        lambda: any(c["method"] == "drive.changes.getStartPageToken" for c in stack.google.calls())
    )
    _files(stack, "POST", sub=sub, name="after.txt")
    items = eventually(lambda: _feed(stack, linked))
    assert [item["title"] for item in items] == ["after.txt"]
    statuses = [c["status"] for c in stack.google.calls() if c["method"] == "drive.changes.list"]
    assert statuses[0] == 400


def _notifications(stack: RunningStack, channel_id: str) -> list[dict[str, Any]]:
    response = requests.get(f"{stack.urls.fake_google}/_control/drive/notifications", timeout=5)
    return [n for n in response.json()["notifications"] if n.get("channel_id") == channel_id]


def test_stopped_channel_notification_is_rejected(stack: RunningStack, linked: LinkedUser) -> None:
    channel = _channel(stack)
    assert (
        api(stack.function_url("account_api"), "DELETE", "/v1/google", linked.auth).status_code
        == 204
    )
    before = len(_notifications(stack, channel["id"]))
    stack.google.reset_calls()
    requests.post(
        f"{stack.urls.fake_google}/_control/drive/channels/{channel['id']}/notify",
        json={},
        timeout=5,
    ).raise_for_status()
    sent = eventually(
        lambda: [n for n in _notifications(stack, channel["id"])[before:] if n.get("status")]
    )
    assert sent[-1]["status"] == 401
    assert not any(c["method"] == "drive.changes.list" for c in stack.google.calls())
