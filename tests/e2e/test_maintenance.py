"""Fleet maintenance on the running stack: watches that failed at link time are repaired
by one maintenance cycle, a busy mailbox and a dead sync holder get their follow-up without
any scheduler tick, and two ticks at once never do the same work twice."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest
import requests

from devstack.drivers.linking import api
from devstack.drivers.maintenance import reconcile_due, tick
from devstack.drivers.pubsub import collect, eventually
from devstack.drivers.push import FakeFcm, device_body, new_token, put_device
from devstack.drivers.watch import (
    calendar_change,
    calls,
    deliver_mail,
    drive_file,
    fault,
    feed,
)
from devstack.processes import wait_all_ready
from tests.e2e.conftest import LinkedUser, RunningStack, link_user

EVENT = {
    "summary": "Design review",
    "start": {"dateTime": "2026-05-04T10:00:00+09:00"},
    "end": {"dateTime": "2026-05-04T11:00:00+09:00"},
}

# The watch call of each feature; faulted more times than linking's retry budget (the
# callback is an HTTP request: 3 tries), so the watch really does not start.
WATCH_METHODS = {
    "gmail": "gmail.users.watch",
    "drive": "drive.changes.watch",
    "calendar": "calendar.events.watch",
}


def _watches(stack: RunningStack, user: LinkedUser) -> dict[str, dict[str, Any]]:
    response = api(stack.function_url("account_api"), "GET", "/v1/google", user.auth)
    assert response.status_code == 200, response.text
    return {watch["feature"]: watch for watch in response.json()["watches"]}


def _live(stack: RunningStack, user: LinkedUser, feature: str) -> bool:
    """The fake holds a live Gmail watch or channel of the feature for the user."""
    kind = "watches" if feature == "gmail" else "channels"
    response = requests.get(f"{stack.urls.fake_google}/_control/{feature}/{kind}", timeout=10)
    response.raise_for_status()
    sub = user.google["sub"]
    return any(
        w.get("live", True) and not w.get("stopped") and w.get("sub", w.get("owner")) == sub
        for w in response.json()[kind]
    )


def _change(stack: RunningStack, user: LinkedUser, feature: str) -> str:
    """A change at Google that only the feature's watch announces; its feed title."""
    sub = user.google["sub"]
    if feature == "gmail":
        deliver_mail(stack.urls.fake_google, sub, "after the repair")
        return "after the repair"
    if feature == "drive":
        drive_file(stack.urls.fake_google, sub=sub, name="repaired.txt")
        return "repaired.txt"
    calendar_change(stack.urls.fake_google, sub, "insert", event=EVENT)
    return "Design review"


@pytest.mark.parametrize("feature", sorted(WATCH_METHODS))
def test_a_watch_that_failed_at_link_time_is_repaired_by_one_cycle(
    stack: RunningStack, feature: str
) -> None:
    fault(stack.urls.fake_google, WATCH_METHODS[feature], 503, times=3)
    user = link_user(stack, f"repair.{feature}@gmail.example")
    token = new_token(stack.seen)
    account = stack.function_url("account_api")
    assert put_device(account, user.auth, "phone-repaired", device_body(token)).status_code == 201
    assert not _live(stack, user, feature)
    before = _watches(stack, user)
    assert before[feature]["status"] == "repairing"
    assert {f for f, w in before.items() if w["status"] == "active"} == set(WATCH_METHODS) - {
        feature
    }

    tick(stack.pubsub)
    eventually(lambda: _watches(stack, user)[feature]["status"] == "active", timeout=60)
    assert _live(stack, user, feature)

    title = _change(stack, user, feature)
    items = eventually(lambda: [i for i in feed(account, user.auth) if i["title"] == title])
    assert len(items) == 1
    fcm = FakeFcm(stack.urls.fake_google)
    eventually(lambda: fcm.messages(token), timeout=30)
    assert [m["message"]["data"]["item_id"] for m in fcm.messages(token)] == [items[0]["id"]]
    after = _watches(stack, user)[feature]
    assert after["last_notification_at"] is not None and after["last_sync_at"] is not None


def _worker_log(stack: RunningStack) -> list[dict[str, Any]]:
    path = stack.workdir / "logs" / "maintenance_worker.log"
    if not path.exists():
        return []
    lines = [line for line in path.read_text().splitlines() if line.startswith("{")]
    return [json.loads(line) for line in lines]


def _ticks_handled(stack: RunningStack) -> int:
    path = stack.workdir / "logs" / "watch_maintenance.log"
    text = path.read_text() if path.exists() else ""
    return text.count('"maintenance tick done"')


def test_a_mailbox_busy_through_every_pass_is_followed_up_without_a_tick(
    stack: RunningStack, linked: LinkedUser
) -> None:
    ticks = _ticks_handled(stack)
    google, sub = stack.urls.fake_google, linked.google["sub"]
    # Slow passes (each Google read 1.8 s, under the 2 s local timeout), and a new mail
    # during every pass: each run's 5 passes end dirty.
    for method in ("gmail.users.history.list", "gmail.users.messages.get"):
        fault(google, method, 200, delay_seconds=1.8, times=40)
    stack.google.reset_calls()
    subjects = [f"busy {n}" for n in range(7)]
    deliver_mail(google, sub, subjects[0])

    def passes() -> int:
        return len(calls(google, "gmail.users.history.list"))

    for number, subject in enumerate(subjects[1:], start=1):
        # Pass `number` has started: the mail lands while it reads.
        eventually(lambda: passes() >= number, 60)  # noqa: B023 - called at once
        deliver_mail(google, sub, subject)
    account = stack.function_url("account_api")
    eventually(lambda: len(feed(account, linked.auth)) == len(subjects), timeout=120)
    assert sorted(i["title"] for i in feed(account, linked.auth)) == subjects
    jobs = collect(stack.push_jobs, len(subjects))
    assert len(jobs) == len(subjects) == len({job["item_id"] for job in jobs})
    # The worker logs once its follow-up run is over (its last pass may still be reading).
    eventually(lambda: [e for e in _worker_log(stack) if e.get("task") == "sync"], timeout=60)
    assert _ticks_handled(stack) == ticks  # no scheduler tick was involved


def test_a_sync_holder_killed_mid_pass_is_taken_over_by_its_redelivery(
    stack: RunningStack, linked: LinkedUser
) -> None:
    """Bound: the trigger's redelivery delay (Pub/Sub push retry) plus one pass; well
    under the 120 s lease the takeover no longer waits for."""
    ticks = _ticks_handled(stack)
    # Longer than the local 2 s Google timeout: each attempt of the pass hangs until then,
    # so the holder is still mid-pass when it is killed.
    fault(stack.urls.fake_google, "gmail.users.history.list", 200, delay_seconds=30, times=3)
    stack.google.reset_calls()
    deliver_mail(stack.urls.fake_google, linked.google["sub"], "survives its holder")
    eventually(lambda: calls(stack.urls.fake_google, "gmail.users.history.list"), timeout=30)
    receiver = stack.local.component("gmail_receiver")
    started = time.monotonic()
    receiver.stop(timeout=1)  # the holder dies mid-pass, its lease left behind
    receiver.start()
    wait_all_ready([receiver], 60)
    account = stack.function_url("account_api")
    items = eventually(lambda: feed(account, linked.auth), timeout=75)
    assert [i["title"] for i in items] == ["survives its holder"]
    assert time.monotonic() - started < 90
    assert len(collect(stack.push_jobs, 1)) == 1
    assert _ticks_handled(stack) == ticks


def test_two_ticks_at_once_process_each_account_once(stack: RunningStack) -> None:
    users = [link_user(stack, f"fleet.{n}@gmail.example") for n in range(3)]
    for user in users:
        reconcile_due(stack.db, user.uid)
    stack.google.reset_calls()
    tick(stack.pubsub)
    tick(stack.pubsub)

    def settled() -> bool:
        docs = [
            doc.to_dict() or {}
            for user in users
            for doc in stack.db.collection(f"users/{user.uid}/cursors").stream()
        ]
        return len(docs) == 9 and all(
            d.get("claim") is None and d.get("reconciled_at") for d in docs
        )

    eventually(settled, timeout=90)
    time.sleep(2)  # a duplicate would have shown by now
    lists = ("gmail.users.history.list", "drive.changes.list", "calendar.events.list")
    seen: Counter[tuple[str | None, str]] = Counter(
        (c.get("user_sub"), c["method"]) for c in stack.google.calls() if c["method"] in lists
    )
    expected = {(user.google["sub"], method) for user in users for method in lists}
    assert set(seen) == expected and set(seen.values()) == {1}, seen
    assert _ticks_handled(stack) >= 2
