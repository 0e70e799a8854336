"""The feed and the pushes tell the truth: Gmail recovery after an expired historyId, Drive
changes classified by meaning. Nothing missing, nothing invented, nothing doubled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from devstack.drivers.pubsub import collect, eventually, wait_len
from devstack.drivers.push import FakeFcm, device_body, new_token, put_device
from devstack.drivers.watch import calls, deliver_mail, drive_file, feed, notify_gmail
from tests.e2e.conftest import LinkedUser, RunningStack


def _feed(stack: RunningStack, user: LinkedUser) -> list[dict[str, Any]]:
    return feed(stack.function_url("account_api"), user.auth)


def _phone(stack: RunningStack, user: LinkedUser) -> str:
    token = new_token(stack.seen)
    account = stack.function_url("account_api")
    assert put_device(account, user.auth, "phone-0001", device_body(token)).status_code == 201
    return token


def _files(stack: RunningStack, method: str, path: str = "", **body: Any) -> dict[str, Any]:
    return drive_file(stack.urls.fake_google, method, path, **body)


def test_gmail_404_during_a_burst_loses_no_mail(stack: RunningStack, linked: LinkedUser) -> None:
    sub = linked.google["sub"]
    token = _phone(stack, linked)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    deliver_mail(stack.urls.fake_google, sub, "old import", notify="drop", received_at=yesterday)
    # A burst arrives while the stored historyId is expiring: the first notification of the
    # burst finds it expired (404).
    burst = {f"burst {index}" for index in range(3)}
    for subject in sorted(burst):
        deliver_mail(stack.urls.fake_google, sub, subject, notify="drop")
    requests.post(
        f"{stack.urls.fake_google}/_control/gmail/expire_history", json={"sub": sub}, timeout=5
    ).raise_for_status()
    notify_gmail(stack.urls.fake_google, sub, copies=3)

    items = wait_len(lambda: _feed(stack, linked), 3, timeout=60)
    assert {item["title"] for item in items} == burst  # the old import is not recovered
    history = calls(stack.urls.fake_google, "gmail.users.history.list")
    assert history[0]["status"] == 404
    fcm = FakeFcm(stack.urls.fake_google)
    pushed = wait_len(lambda: fcm.messages(token), 3, timeout=60)
    assert sorted(m["message"]["data"]["item_id"] for m in pushed) == sorted(i["id"] for i in items)
    # After the recovery, mail flows from the new historyId, once.
    deliver_mail(stack.urls.fake_google, sub, "after the burst")
    items = wait_len(lambda: _feed(stack, linked), 4, timeout=60)
    assert items[0]["title"] == "after the burst"
    eventually(lambda: len(fcm.messages(token)) == 4, timeout=60)
    assert len(collect(stack.push_jobs, 4)) == 4


def test_an_upload_with_an_older_modified_time_is_created(
    stack: RunningStack, linked: LinkedUser
) -> None:
    sub = linked.google["sub"]
    _files(stack, "POST", sub=sub, name="scan.pdf", modifiedTime="2019-06-01T09:00:00+09:00")
    (item,) = eventually(lambda: _feed(stack, linked), timeout=60)
    assert (item["kind"], item["title"]) == ("drive.created", "scan.pdf")
    # A new Doc typed into before we read its change: one change entry, still created.
    doc = _files(stack, "POST", sub=sub, name="Notes", notify="drop")
    _files(stack, "PATCH", f"/{doc['file_id']}")
    items = wait_len(lambda: _feed(stack, linked), 2, timeout=60)
    assert (items[0]["kind"], items[0]["resource_id"]) == ("drive.created", doc["file_id"])


def test_drive_changes_are_told_apart(stack: RunningStack, linked: LinkedUser) -> None:
    sub = linked.google["sub"]
    file_id = _files(stack, "POST", sub=sub, name="Plan.docx", actor="Kim")["file_id"]
    steps: list[tuple[dict[str, Any], str]] = [
        ({"name": "Plan v2.docx", "actor": "Kim"}, "drive.renamed"),
        ({"parents": ["folder-2"], "actor": "Kim"}, "drive.moved"),
        ({"actor": "Kim"}, "drive.changed"),
        ({"trashed": True, "actor": "Kim"}, "drive.trashed"),
        ({"trashed": False, "actor": "Kim"}, "drive.restored"),
    ]
    eventually(lambda: len(_feed(stack, linked)) == 1, timeout=60)
    for count, (change, _) in enumerate(steps, start=2):
        _files(stack, "PATCH", f"/{file_id}", **change)
        wait_len(lambda: _feed(stack, linked), count, timeout=60)
    _files(stack, "DELETE", f"/{file_id}")
    items = wait_len(lambda: _feed(stack, linked), len(steps) + 2, timeout=60)
    kinds = [item["kind"] for item in reversed(items)]
    assert kinds == ["drive.created", *(kind for _, kind in steps), "drive.deleted"]


def test_a_file_that_appeared_and_disappeared_between_two_passes_shows_nothing(
    stack: RunningStack, linked: LinkedUser
) -> None:
    sub = linked.google["sub"]
    token = _phone(stack, linked)
    gone = _files(stack, "POST", sub=sub, name="tmp.txt", notify="drop")
    _files(stack, "DELETE", f"/{gone['file_id']}", notify="drop")
    trashed = _files(stack, "POST", sub=sub, name="oops.txt", notify="drop")
    _files(stack, "POST", f"/{trashed['file_id']}/trash", notify="drop")
    # The next notification's pass reads all three changes; only the marker is real.
    _files(stack, "POST", sub=sub, name="marker.txt")
    (item,) = eventually(lambda: _feed(stack, linked), timeout=60)
    assert item["title"] == "marker.txt"
    fcm = FakeFcm(stack.urls.fake_google)
    (message,) = eventually(lambda: fcm.messages(token), timeout=60)
    assert message["message"]["data"]["item_id"] == item["id"]
