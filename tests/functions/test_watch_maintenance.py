"""watch_maintenance in process: Cloud Scheduler's ticks on ``maintenance-ticks`` claim the
sources that are due and publish them as work; ``maintenance_worker`` does the work
(``tests/functions/maintenance.py`` delivers it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.errors import AppError, ErrorCode
from shared.google_errors import GoogleFailure
from shared.ports.sync import SourceKind, SyncKey
from shared.services.linking import PendingCompletion, state_hash
from tests.functions.conftest import Mode, World, post_event, publish, pubsub_envelope
from tests.functions.fakes import device
from tests.functions.maintenance import cycle, make_due, run_work, tick

GMAIL = SyncKey("alice", SourceKind.GMAIL)
DRIVE = SyncKey("alice", SourceKind.DRIVE)
CALENDAR = SyncKey("alice", SourceKind.CALENDAR, "primary")


def expire_soon(world: World, key: SyncKey) -> str:
    """Make the source's channel expire within the renewal window, due now; its id."""
    record = world.sync.cursor_of(key)
    assert record is not None
    make_due(world, key, channel_expires_at=datetime.now(UTC) + timedelta(hours=1))
    return str(record["channel_id"])


def alerts(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        str(getattr(record, "alert", "")) for record in caplog.records if hasattr(record, "alert")
    ]


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_a_tick_renews_expiring_channels_and_rewatches_gmail(world: World, mode: Mode) -> None:
    world.linked_user("alice")
    old = expire_soon(world, DRIVE)
    make_due(world, GMAIL, watch_expires_at=datetime.now(UTC) + timedelta(days=1))
    response = publish(world.function("watch_maintenance"), {"task": "tick"}, mode=mode)
    assert response.status_code == 200
    assert world.journal.google == []  # the tick only claims and publishes
    (work,) = run_work(world)
    assert work["sources"] == [["alice", "drive", ""], ["alice", "gmail", ""]]
    drive = [c for c in world.channels.of_user("alice") if c.source == "drive"]
    assert [c.id for c in drive] != [old] and len(drive) == 1
    assert old not in world.drive.open  # stopped at Google after the new one was saved
    assert world.journal.google == ["drive.watch", "drive.stop", "gmail.watch"]
    gmail = world.sync.cursor_of(GMAIL)
    assert gmail is not None and gmail["watch_expires_at"] > datetime.now(UTC) + timedelta(days=6)
    assert gmail["claim"] is None and gmail["due_at"] > datetime.now(UTC)


def test_sources_of_unlinked_accounts_are_stopped_and_leave_the_index(world: World) -> None:
    world.linked_user("alice")
    old = expire_soon(world, CALENDAR)
    world.links.users["alice"]["status"] = "not_linked"
    cycle(world)
    assert old not in world.channels.channels
    assert world.journal.google == ["calendar.stop"]
    record = world.sync.cursor_of(CALENDAR)
    assert record is not None and record["due_at"] is None


def test_accounts_that_need_the_user_leave_the_index_without_alerts(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.linked_user("alice")
    world.linked_user("bob")
    alice_channel = expire_soon(world, DRIVE)
    expire_soon(world, SyncKey("bob", SourceKind.DRIVE))
    world.drive.failure = AppError(ErrorCode.GOOGLE_RELINK_REQUIRED, "Link again.")
    cycle(world)
    assert world.journal.google == ["drive.watch", "drive.watch"]  # both tried
    assert alice_channel in world.channels.channels  # nothing replaced, nothing lost
    assert alerts(caplog) == []  # the user must act: not an operator alert
    for uid in ("alice", "bob"):
        record = world.sync.cursor_of(SyncKey(uid, SourceKind.DRIVE))
        assert record is not None and record["due_at"] is None


def test_a_renewal_failure_backs_off_then_alerts_never_a_retry(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.linked_user("alice")
    expire_soon(world, DRIVE)
    world.drive.failure = GoogleFailure(503, "backendError")
    failures = []
    for _ in range(3):
        make_due(world, DRIVE)
        cycle(world)  # every delivery answered 200: no Pub/Sub retry
        record = world.sync.cursor_of(DRIVE)
        assert record is not None and record["repair_at"] > datetime.now(UTC)
        failures.append((record["watch_status"], record["watch_failures"]))
    assert failures == [("repairing", 1), ("repairing", 2), ("failed", 3)]
    assert alerts(caplog) == ["watch_repair_failed"]


def test_reconcile_syncs_silent_sources(world: World) -> None:
    world.linked_user("alice")
    world.linked_user("bob")
    past = datetime.now(UTC) - timedelta(seconds=1)
    make_due(world, GMAIL, reconcile_at=past, last_notified_at=None)
    before = world.sync.cursors[("alice", GMAIL.doc_id)]["last_synced_at"]
    make_due(world, SyncKey("bob", SourceKind.DRIVE), reconcile_at=past)
    world.links.users["bob"]["status"] = "not_linked"  # not synced: his channel is stopped
    cycle(world)
    assert world.journal.google == ["gmail.fetch", "drive.stop"]
    cursor = world.sync.cursor_of(GMAIL)
    assert cursor is not None and cursor["last_synced_at"] > before
    assert cursor["reconcile_at"] > datetime.now(UTC)


def test_a_reconcile_failure_is_an_alert_not_a_retry(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.linked_user("alice")
    make_due(world, GMAIL, reconcile_at=datetime.now(UTC) - timedelta(seconds=1))
    world.gmail.failure = GoogleFailure(500, "backendError")
    cycle(world)
    assert alerts(caplog) == ["reconcile_failed"]
    cursor = world.sync.cursor_of(GMAIL)
    assert cursor is not None and cursor["claim"] is None and cursor["due_at"] is not None


def test_the_calendar_list_is_re_read_when_due(world: World) -> None:
    world.linked_user("alice")
    world.calendar_source.calendars = ["primary", "team@group.calendar.google.com"]
    make_due(world, CALENDAR, calendar_list_at=datetime.now(UTC) - timedelta(seconds=1))
    cycle(world)
    assert world.journal.google == [
        "calendar.calendar_list",
        "calendar.start_cursor",
        "calendar.watch",
    ]
    assert world.sync.calendars_of("alice") == {"primary", "team@group.calendar.google.com"}
    record = world.sync.cursor_of(CALENDAR)
    assert record is not None and record["calendar_list_at"] > datetime.now(UTC)
    # Removed from the list: stopped and forgotten at the next re-read.
    world.calendar_source.calendars = ["primary"]
    world.journal.clear()
    make_due(world, CALENDAR, calendar_list_at=datetime.now(UTC) - timedelta(seconds=1))
    cycle(world)
    assert world.journal.google == ["calendar.calendar_list", "calendar.stop"]
    assert world.sync.calendars_of("alice") == {"primary"}


def test_nothing_due_does_nothing(world: World) -> None:
    world.linked_user("alice")
    fresh = completion("bob", "sub-bob", datetime.now(UTC) + timedelta(minutes=5))
    world.links.completions[state_hash("bob-code")] = fresh
    assert cycle(world) == []
    assert world.journal.writes == []
    assert world.journal.google == []


def completion(uid: str, sub: str, expires_at: datetime) -> PendingCompletion:
    """A grant the callback kept for ``uid`` (sealed by the fake vault)."""
    return PendingCompletion(
        uid=uid,
        sub=sub,
        scopes=["openid"],
        sealed_refresh=f"sealed:{uid}:refresh-{sub}",
        sealed_access=f"sealed:{uid}:access-{sub}",
        access_expires_at=expires_at,
        expires_at=expires_at,
    )


def test_a_tick_revokes_completions_nobody_finished_in_time(world: World) -> None:
    world.linked_user("bob")
    now = datetime.now(UTC)
    waiting = world.links.completions
    waiting[state_hash("alice-code")] = completion("alice", "sub-alice", now - timedelta(seconds=1))
    # A forwarded consent URL: bob's own, linked, account granted for carol; not revoked,
    # since Google revokes per user and client and bob's link would go with it.
    waiting[state_hash("carol-code")] = completion("carol", "sub-bob", now - timedelta(minutes=1))
    waiting[state_hash("dave-code")] = completion("dave", "sub-dave", now + timedelta(minutes=4))
    assert tick(world).status_code == 200
    assert world.oauth.revoked == ["refresh-sub-alice"]
    assert list(waiting) == [state_hash("dave-code")]  # the one still in time is kept
    assert world.journal.writes == ["links.take_completion", "links.take_completion"]
    assert world.links.link_status("bob").status == "linked"
    # The sweep is idempotent: the next tick finds nothing.
    world.journal.clear()
    assert tick(world).status_code == 200
    assert world.journal.writes == []
    assert world.journal.google == []


MALFORMED: dict[str, Any] = {
    "unknown-task": pubsub_envelope(b'{"task": "explode"}'),
    "old-task": pubsub_envelope(b'{"task": "renew"}'),
    "task-case": pubsub_envelope(b'{"task": "TICK"}'),
    "task-padded": pubsub_envelope(b'{"task": " prune"}'),
    "task-not-text": pubsub_envelope(b'{"task": ["tick"]}'),
    "cycle-empty": pubsub_envelope(b'{"task": "tick", "cycle": ""}'),
    "cycle-not-text": pubsub_envelope(b'{"task": "tick", "cycle": 7}'),
    "cycle-too-long": pubsub_envelope(b'{"task": "tick", "cycle": "' + b"c" * 65 + b'"}'),
    "no-task": pubsub_envelope(b"{}"),
    "json-array": pubsub_envelope(b'["tick"]'),
    "plain-text": pubsub_envelope(b"tick"),
    "not-base64": {"message": {"data": "!!"}},
    "no-message": {},
}


@pytest.mark.parametrize("envelope", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_ticks_are_acknowledged_and_do_nothing(world: World, envelope: Any) -> None:
    world.linked_user("alice")
    expire_soon(world, DRIVE)
    make_due(world, GMAIL, reconcile_at=datetime.now(UTC) - timedelta(seconds=1))
    old = datetime.now(UTC) - timedelta(days=61)
    world.devices.upsert("alice", device("old-phone-01", last_seen=old))
    world.links.completions[state_hash("late")] = completion("x", "sub-x", old)
    world.journal.clear()
    assert post_event(world.function("watch_maintenance"), envelope).status_code == 200
    world.assert_untouched()
    assert world.work.bodies == []


def test_prune_deletes_devices_not_registered_for_the_stale_period(world: World) -> None:
    now = datetime.now(UTC)
    world.devices.upsert("alice", device("old-phone-01", last_seen=now - timedelta(days=61)))
    world.devices.upsert("alice", device("new-phone-01", last_seen=now))
    world.journal.clear()
    assert publish(world.function("watch_maintenance"), {"task": "prune"}).status_code == 200
    assert world.work.bodies == [{"task": "prune"}]  # the daily tick starts bounded work
    assert run_work(world) == [{"task": "prune"}]  # a short batch: no continuation
    assert [device.device_id for device in world.devices.of_user("alice")] == ["new-phone-01"]
    assert world.journal.writes == ["maintenance-work.publish", "devices.delete"]
    assert world.journal.google == []
