"""Fault injection: every fault the fake Google and the stack can inject ends with nothing
lost, nothing sent twice, and the account healthy or clearly marked ``relink_required``.

Faults already proven elsewhere are listed in ``docs/reliability.md`` with their test; this
file holds the rest. Nothing here is timed: waits poll until a state is reached.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.drivers.linking import link_via_consent
from devstack.drivers.maintenance import tick
from devstack.drivers.pubsub import collect, eventually
from devstack.drivers.push import FakeFcm, device_body, new_token, put_device
from devstack.drivers.watch import (
    calendar_change,
    calls,
    deliver_mail,
    drive_file,
    fault,
    feed,
    link_status,
    notify_gmail,
)
from devstack.processes import wait_all_ready
from tests.e2e.conftest import LinkedUser, RunningStack

HISTORY_LIST = "gmail.users.history.list"
MESSAGES_GET = "gmail.users.messages.get"
EVENT = {
    "summary": "Design review",
    "start": {"dateTime": "2026-12-01T10:00:00+09:00"},
    "end": {"dateTime": "2026-12-01T11:00:00+09:00"},
}

# Google answers a call must survive: (status, extra fault fields). Status 0 drops the
# connection; a 2xx status with a delay longer than GOOGLE_API_TIMEOUT_SECONDS (2 s
# locally) is a timeout.
GOOGLE_FAULTS: dict[str, tuple[int, dict[str, Any]]] = {
    "429": (429, {"retry_after": 1}),
    "403_rate_limit": (403, {"error_reason": "rateLimitExceeded"}),
    "500": (500, {}),
    "dropped_connection": (0, {}),
    "timeout": (200, {"delay_seconds": 3}),
}


def _feed(stack: RunningStack, user: LinkedUser) -> list[dict[str, Any]]:
    return feed(stack.function_url("account_api"), user.auth)


def _statuses(stack: RunningStack, method: str) -> list[int]:
    return [call["status"] for call in calls(stack.urls.fake_google, method)]


def _exactly_once(stack: RunningStack, user: LinkedUser, titles: set[str]) -> None:
    """The feed holds each title once, and one push job per item was published (the
    account's own notices, such as a re-link request, aside)."""

    def changes() -> list[dict[str, Any]]:
        return [item for item in _feed(stack, user) if item["category"] != "account"]

    eventually(lambda: len(changes()) >= len(titles), timeout=60)
    jobs = collect(stack.push_jobs, len(titles), timeout=60)
    items = changes()
    assert sorted(item["title"] for item in items) == sorted(titles)
    assert len(jobs) == len(titles)
    assert {job["item_id"] for job in jobs} == {item["id"] for item in items}


@pytest.mark.parametrize("case", sorted(GOOGLE_FAULTS))
def test_gmail_fault_is_retried_by_redelivery(
    stack: RunningStack, linked: LinkedUser, case: str
) -> None:
    status, extra = GOOGLE_FAULTS[case]
    stack.google.reset_calls()
    fault(stack.urls.fake_google, HISTORY_LIST, status, **extra)
    deliver_mail(stack.urls.fake_google, linked.google["sub"], f"after a {case}")
    # gmail_receiver raised, Pub/Sub redelivered, the second pass synced.
    _exactly_once(stack, linked, {f"after a {case}"})
    statuses = _statuses(stack, HISTORY_LIST)
    assert statuses[-1] == 200 and len(statuses) >= 2
    assert link_status(stack.function_url("account_api"), linked.auth) == "linked"


@pytest.mark.parametrize("case", ["500", "dropped_connection", "timeout"])
def test_drive_fault_leaves_the_source_dirty_for_reconcile(
    stack: RunningStack, linked: LinkedUser, case: str
) -> None:
    status, extra = GOOGLE_FAULTS[case]
    fault(stack.urls.fake_google, "drive.changes.list", status, **extra)
    answered = len(_webhook_answers(stack))
    drive_file(stack.urls.fake_google, sub=linked.google["sub"], name="plan.txt")
    eventually(lambda: len(_webhook_answers(stack)) > answered, timeout=30)
    first = calls(stack.urls.fake_google, "drive.changes.list")[0]
    assert first["faulted"] is True
    # A late answer's record turns 200 once the fake finishes sleeping, after the client
    # gave up; only an error status is fixed when the webhook answers.
    if status != 200:
        assert first["status"] == status
    # Google does not resend a channel notification the webhook failed: a failed pass
    # leaves the cursor dirty and due, and the next maintenance tick reconciles it.
    cursor = stack.db.document(f"users/{linked.uid}/cursors/drive")
    if not _feed(stack, linked):
        record = cursor.get().to_dict() or {}
        assert record.get("dirty") is True and record["due_at"] <= datetime.now(UTC)
    tick(stack.pubsub)
    _exactly_once(stack, linked, {"plan.txt"})


def _webhook_answers(stack: RunningStack) -> list[int]:
    response = requests.get(f"{stack.urls.fake_google}/_control/drive/notifications", timeout=5)
    changes = [n for n in response.json()["notifications"] if n["resource_state"] != "sync"]
    return [n["status"] for n in changes if n.get("status")]


def test_calendar_fault_is_caught_up_by_the_next_notification(
    stack: RunningStack, linked: LinkedUser
) -> None:
    sub = linked.google["sub"]
    fault(stack.urls.fake_google, "calendar.events.list", 0)
    calendar_change(stack.urls.fake_google, sub, "insert", event=EVENT)
    eventually(lambda: 0 in _statuses(stack, "calendar.events.list"))
    calendar_change(stack.urls.fake_google, sub, "insert", event={**EVENT, "summary": "Retro"})
    _exactly_once(stack, linked, {"Design review", "Retro"})


def test_reordered_gmail_notifications(stack: RunningStack, linked: LinkedUser) -> None:
    sub = linked.google["sub"]
    stack.google.reset_calls()
    # The first mail's notification arrives after the second's (which covers both).
    deliver_mail(stack.urls.fake_google, sub, "first", notify="delay", delay_seconds=3)
    deliver_mail(stack.urls.fake_google, sub, "second")
    _exactly_once(stack, linked, {"first", "second"})
    eventually(
        lambda: len(_published(stack)) >= 2 and all(p.get("outcome") for p in _published(stack))
    )
    time.sleep(2)  # let the late notification be handled
    assert len(_feed(stack, linked)) == 2
    assert stack.push_jobs.drain() == []
    # The late one is older than the stored cursor: acknowledged without a sync.
    assert len(_statuses(stack, HISTORY_LIST)) <= 2


def _published(stack: RunningStack) -> list[dict[str, Any]]:
    response = requests.get(f"{stack.urls.fake_google}/_control/gmail/published", timeout=5)
    return list(response.json()["published"])


def test_crash_between_sync_steps_loses_nothing(stack: RunningStack, linked: LinkedUser) -> None:
    sub = linked.google["sub"]
    titles = {f"mail {index}" for index in range(3)}
    for title in sorted(titles):
        deliver_mail(stack.urls.fake_google, sub, title, notify="drop")
    stack.google.reset_calls()
    # history.list succeeds, the pass's second Google call times out (Google may have done
    # the work, we never saw the answer): the gateway asks again, a GET is safe to resend.
    fault(stack.urls.fake_google, MESSAGES_GET, 200, delay_seconds=3)
    notify_gmail(stack.urls.fake_google, sub)
    _exactly_once(stack, linked, titles)
    assert _statuses(stack, HISTORY_LIST) == [200]
    assert len(_statuses(stack, MESSAGES_GET)) == 4  # the timed-out one, then all three


def test_invalid_grant_marks_relink_required_and_stops_syncing(
    stack: RunningStack, linked: LinkedUser
) -> None:
    sub = linked.google["sub"]
    account = stack.function_url("account_api")
    # The cached access token has expired, and the user revoked our access meanwhile.
    secret = stack.db.document(f"users/{linked.uid}/secrets/google")
    secret.update({"access_expires_at": datetime.now(UTC) - timedelta(minutes=1)})
    requests.post(
        f"{stack.urls.fake_google}/_control/revoke_user", json={"sub": sub}, timeout=10
    ).raise_for_status()
    stack.google.reset_calls()
    deliver_mail(stack.urls.fake_google, sub, "unreadable")
    eventually(lambda: link_status(account, linked.auth) == "relink_required", timeout=30)
    assert not secret.get().exists
    # Acknowledged, not redelivered forever: one refresh attempt, then silence.
    time.sleep(3)
    refreshes = calls(stack.urls.fake_google, "oauth.token")
    assert [call["status"] for call in refreshes] == [400]
    assert calls(stack.urls.fake_google, HISTORY_LIST) == []
    # The only push is the one telling the app to ask for a new link.
    assert [job["kind"] for job in stack.push_jobs.drain()] == ["account.relink_required"]
    assert [item["kind"] for item in _feed(stack, linked)] == ["account.relink_required"]
    # Re-linking heals the account: mail flows again, once.
    relinked = link_via_consent(account, stack.urls.fake_google, linked.auth, sub)
    assert relinked.status_code == 200, relinked.text
    deliver_mail(stack.urls.fake_google, sub, "after relink")
    _exactly_once(stack, linked, {"after relink"})


def test_fcm_failure_through_the_whole_chain_sends_once(
    stack: RunningStack, linked: LinkedUser
) -> None:
    token = new_token(stack.seen)
    put_device(stack.function_url("account_api"), linked.auth, "phone-0001", device_body(token))
    fcm = FakeFcm(stack.urls.fake_google)
    fcm.fail(token, "QUOTA_EXCEEDED", times=1)
    deliver_mail(stack.urls.fake_google, linked.google["sub"], "pushed despite quota")
    eventually(lambda: fcm.messages(token), timeout=60)
    time.sleep(3)  # a duplicate send would show up by now
    assert len(fcm.messages(token)) == 1


def _export_firestore(stack: RunningStack) -> Path:
    """Export the emulator's data; returns the metadata file to seed a restart from."""
    directory = stack.workdir / f"firestore-export-{time.monotonic_ns()}"
    directory.mkdir()
    project = stack.urls.project_id
    requests.post(
        f"http://{stack.urls.firestore}/emulator/v1/projects/{project}:export",
        json={
            "database": f"projects/{project}/databases/(default)",
            "export_directory": str(directory),
        },
        timeout=30,
    ).raise_for_status()
    return next(directory.glob("*/*.overall_export_metadata"))


def _fails(url: str, user: LinkedUser) -> bool:
    """The request fails (5xx, or no answer within 10 s) while Firestore is down."""
    try:
        response = requests.get(
            url, headers={"Authorization": f"Bearer {user.auth.id_token}"}, timeout=10
        )
    except requests.Timeout:
        return True
    return response.status_code >= 500


def test_firestore_emulator_restart_mid_run(stack: RunningStack, linked: LinkedUser) -> None:
    sub = linked.google["sub"]
    account = stack.function_url("account_api")
    # The emulator forgets everything on restart; production Firestore does not. So it
    # restarts seeded from an export taken just before: a database that was unreachable.
    seed = _export_firestore(stack)
    emulator = stack.local.component("firestore-emulator")
    argv = emulator.argv
    emulator.stop()
    try:
        assert _fails(f"{account}/v1/me", linked)
        deliver_mail(stack.urls.fake_google, sub, "arrived during the outage")
        time.sleep(2)  # its first deliveries fail
    finally:
        emulator.argv = [*argv, f"--seed_from_export={seed}"]
        emulator.start()
        emulator.argv = argv
        wait_all_ready([emulator], 120)
    # The notification was redelivered until Firestore answered again.
    _exactly_once(stack, linked, {"arrived during the outage"})
    assert link_status(account, linked.auth) == "linked"
