"""watch_maintenance in process: Cloud Scheduler's ticks on ``maintenance-ticks``."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.errors import AppError, ErrorCode
from shared.google_errors import GoogleFailure
from shared.ports.sync import SourceKind, SyncKey
from shared.services.linking import PendingCompletion, state_hash
from tests.functions.conftest import Mode, World, post_event, publish, pubsub_envelope
from tests.functions.fakes import device

GMAIL = SyncKey("alice", SourceKind.GMAIL)


def expire_soon(world: World, uid: str, source: str) -> str:
    """Make ``uid``'s channel of ``source`` expire within the renewal window; its id."""
    (channel,) = [c for c in world.channels.of_user(uid) if c.source == source]
    soon = datetime.now(UTC) + timedelta(hours=1)
    world.channels.channels[channel.id] = dataclasses.replace(channel, expires_at=soon)
    return channel.id


def alerts(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        str(getattr(record, "alert", "")) for record in caplog.records if hasattr(record, "alert")
    ]


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_renew_replaces_expiring_channels_and_rewatches_gmail(world: World, mode: Mode) -> None:
    world.linked_user("alice")
    old = expire_soon(world, "alice", "drive")
    world.sync.cursors[("alice", GMAIL.doc_id)]["watch_expires_at"] = datetime.now(UTC) + timedelta(
        days=1
    )
    response = publish(world.function("watch_maintenance"), {"task": "renew"}, mode=mode)
    assert response.status_code == 200
    drive = [c for c in world.channels.of_user("alice") if c.source == "drive"]
    assert [c.id for c in drive] != [old] and len(drive) == 1
    assert old not in world.drive.open  # stopped at Google after the new one was saved
    # The renewal tick also re-reads each followed user's calendar list (issue 13).
    assert world.journal.google == [
        "drive.watch",
        "drive.stop",
        "gmail.watch",
        "calendar.calendar_list",
    ]
    gmail = world.sync.cursor_of(GMAIL)
    assert gmail is not None and gmail["watch_expires_at"] > datetime.now(UTC) + timedelta(days=6)


def test_renew_stops_channels_of_unlinked_accounts(world: World) -> None:
    world.linked_user("alice")
    old = expire_soon(world, "alice", "calendar")
    world.links.users["alice"]["status"] = "not_linked"
    assert publish(world.function("watch_maintenance"), {"task": "renew"}).status_code == 200
    assert old not in world.channels.channels
    assert world.journal.google == ["calendar.stop"]


def test_renew_of_an_account_that_needs_the_user_keeps_going(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.linked_user("alice")
    world.linked_user("bob")
    alice_channel = expire_soon(world, "alice", "drive")
    expire_soon(world, "bob", "drive")
    world.drive.failure = AppError(ErrorCode.GOOGLE_RELINK_REQUIRED, "Link again.")
    assert publish(world.function("watch_maintenance"), {"task": "renew"}).status_code == 200
    assert alice_channel in world.channels.channels  # nothing replaced, nothing lost
    assert alerts(caplog) == []  # the user must act: not an operator alert


def test_a_renewal_failure_is_an_alert_not_a_retry(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.linked_user("alice")
    expire_soon(world, "alice", "drive")
    world.drive.failure = GoogleFailure(503, "backendError")
    assert publish(world.function("watch_maintenance"), {"task": "renew"}).status_code == 200
    assert alerts(caplog) == ["channel_renewal_failed"]


def test_reconcile_syncs_sources_left_behind(world: World) -> None:
    world.linked_user("alice")
    world.linked_user("bob")
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    world.sync.cursors[("alice", GMAIL.doc_id)]["last_synced_at"] = long_ago
    world.sync.cursors[("bob", SyncKey("bob", SourceKind.DRIVE).doc_id)]["dirty"] = True
    world.links.users["bob"]["status"] = "not_linked"  # skipped: nothing to sync for him
    assert publish(world.function("watch_maintenance"), {"task": "reconcile"}).status_code == 200
    assert world.journal.google == ["gmail.fetch"]
    cursor = world.sync.cursor_of(GMAIL)
    assert cursor is not None and cursor["last_synced_at"] > long_ago


def test_a_reconcile_failure_is_an_alert_not_a_retry(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.linked_user("alice")
    world.sync.cursors[("alice", GMAIL.doc_id)]["dirty"] = True
    world.gmail.failure = GoogleFailure(500, "backendError")
    assert publish(world.function("watch_maintenance"), {"task": "reconcile"}).status_code == 200
    assert alerts(caplog) == ["reconcile_failed"]


def test_nothing_due_does_nothing(world: World) -> None:
    world.linked_user("alice")
    fresh = completion("bob", "sub-bob", datetime.now(UTC) + timedelta(minutes=5))
    world.links.completions[state_hash("bob-code")] = fresh
    client = world.function("watch_maintenance")
    assert publish(client, {"task": "renew"}).status_code == 200
    assert publish(client, {"task": "reconcile"}).status_code == 200
    # Nothing written; the one Google read is the calendar list the renewal tick re-reads.
    assert world.journal.writes == []
    assert world.journal.google == ["calendar.calendar_list"]


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


def test_renew_revokes_completions_nobody_finished_in_time(world: World) -> None:
    world.linked_user("bob")
    now = datetime.now(UTC)
    waiting = world.links.completions
    waiting[state_hash("alice-code")] = completion("alice", "sub-alice", now - timedelta(seconds=1))
    # A forwarded consent URL: bob's own, linked, account granted for carol; not revoked,
    # since Google revokes per user and client and bob's link would go with it.
    waiting[state_hash("carol-code")] = completion("carol", "sub-bob", now - timedelta(minutes=1))
    waiting[state_hash("dave-code")] = completion("dave", "sub-dave", now + timedelta(minutes=4))
    assert publish(world.function("watch_maintenance"), {"task": "renew"}).status_code == 200
    assert world.oauth.revoked == ["refresh-sub-alice"]
    assert list(waiting) == [state_hash("dave-code")]  # the one still in time is kept
    assert world.journal.writes == ["links.take_completion", "links.take_completion"]
    assert world.links.link_status("bob").status == "linked"
    # The sweep is idempotent: the next tick finds nothing.
    world.journal.clear()
    assert publish(world.function("watch_maintenance"), {"task": "renew"}).status_code == 200
    assert world.journal.writes == []
    assert world.journal.google == ["calendar.calendar_list"]  # bob's list, re-read each tick


MALFORMED: dict[str, Any] = {
    "unknown-task": pubsub_envelope(b'{"task": "explode"}'),
    "task-case": pubsub_envelope(b'{"task": "RENEW"}'),
    "task-padded": pubsub_envelope(b'{"task": " prune"}'),
    "task-not-text": pubsub_envelope(b'{"task": ["renew"]}'),
    "no-task": pubsub_envelope(b"{}"),
    "json-array": pubsub_envelope(b'["renew"]'),
    "plain-text": pubsub_envelope(b"renew"),
    "not-base64": {"message": {"data": "!!"}},
    "no-message": {},
}


@pytest.mark.parametrize("envelope", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_ticks_are_acknowledged_and_do_nothing(world: World, envelope: Any) -> None:
    world.linked_user("alice")
    expire_soon(world, "alice", "drive")
    world.sync.cursors[("alice", GMAIL.doc_id)]["dirty"] = True
    old = datetime.now(UTC) - timedelta(days=61)
    world.devices.upsert("alice", device("old-phone-01", last_seen=old))
    world.journal.clear()
    assert post_event(world.function("watch_maintenance"), envelope).status_code == 200
    world.assert_untouched()


def test_prune_deletes_devices_not_registered_for_the_stale_period(world: World) -> None:
    now = datetime.now(UTC)
    world.devices.upsert("alice", device("old-phone-01", last_seen=now - timedelta(days=61)))
    world.devices.upsert("alice", device("new-phone-01", last_seen=now))
    world.journal.clear()
    assert publish(world.function("watch_maintenance"), {"task": "prune"}).status_code == 200
    assert [device.device_id for device in world.devices.of_user("alice")] == ["new-phone-01"]
    assert world.journal.writes == ["devices.delete"]
    assert world.journal.google == []
