"""maintenance_worker in process: one batch of ``maintenance-work`` per invocation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.ports.sync import SourceKind, SyncKey
from shared.services import maintenance
from tests.functions.conftest import World, post_event, publish, pubsub_envelope
from tests.functions.maintenance import make_due, tick

KEYS = [
    SyncKey("alice", SourceKind.CALENDAR, "primary"),
    SyncKey("alice", SourceKind.DRIVE),
    SyncKey("alice", SourceKind.GMAIL),
]


def _due_for_reconcile(world: World) -> dict[str, Any]:
    """Alice's three sources due for a reconcile, claimed by a tick; its work message."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    for key in KEYS:
        make_due(world, key, reconcile_at=past, last_notified_at=None)
    assert tick(world).status_code == 200
    (body,) = world.work.bodies
    world.work.bodies.clear()
    world.journal.clear()
    return body


def test_a_batch_is_handled(world: World) -> None:
    world.linked_user("alice")
    body = _due_for_reconcile(world)
    assert body["task"] == "work" and len(body["sources"]) == 3
    assert publish(world.function("maintenance_worker"), body).status_code == 200
    assert world.journal.google == ["calendar.fetch", "drive.fetch", "gmail.fetch"]
    for key in KEYS:
        record = world.sync.cursor_of(key)
        assert record is not None and record["claim"] is None
        assert record["reconcile_at"] > datetime.now(UTC)
        assert record["due_at"] > datetime.now(UTC)


def test_a_redelivered_batch_repeats_nothing(world: World) -> None:
    world.linked_user("alice")
    body = _due_for_reconcile(world)
    envelope = pubsub_envelope(json.dumps(body).encode())
    worker = world.function("maintenance_worker")
    assert post_event(worker, envelope).status_code == 200
    records = {key: world.sync.cursor_of(key) for key in KEYS}
    world.journal.clear()
    assert post_event(worker, envelope).status_code == 200  # Pub/Sub delivers it again
    world.assert_untouched()
    assert {key: world.sync.cursor_of(key) for key in KEYS} == records


def test_a_batch_claimed_by_another_cycle_is_skipped(world: World) -> None:
    world.linked_user("alice")
    body = _due_for_reconcile(world)
    stale = {**body, "cycle": "an-older-cycle"}
    assert publish(world.function("maintenance_worker"), stale).status_code == 200
    world.assert_untouched()


def test_a_sync_follow_up_continues_a_dirty_source(world: World) -> None:
    world.linked_user("alice")
    world.gmail.batches = [[]]
    body = {"task": "sync", "sources": [["alice", "gmail", ""]]}
    assert publish(world.function("maintenance_worker"), body).status_code == 200
    assert world.journal.google == ["gmail.fetch"]


SOURCE = ["alice", "gmail", ""]
MALFORMED: dict[str, Any] = {
    "unknown-task": {"task": "explode", "cycle": "c", "sources": [SOURCE]},
    "no-cycle": {"task": "work", "sources": [SOURCE]},
    "cycle-not-text": {"task": "work", "cycle": 3, "sources": [SOURCE]},
    "cycle-too-long": {"task": "work", "cycle": "c" * 65, "sources": [SOURCE]},
    "no-sources": {"task": "work", "cycle": "c"},
    "empty-sources": {"task": "work", "cycle": "c", "sources": []},
    "unknown-kind": {"task": "work", "cycle": "c", "sources": [["alice", "fax", ""]]},
    "no-uid": {"task": "work", "cycle": "c", "sources": [["", "gmail", ""]]},
    "short-source": {"task": "sync", "sources": [["alice", "gmail"]]},
    "source-not-text": {"task": "sync", "sources": [["alice", "gmail", 1]]},
    "too-many": {"task": "work", "cycle": "c", "sources": [SOURCE] * (maintenance.WORK_BATCH + 1)},
    "json-array": ["work"],
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_batches_are_acknowledged_and_do_nothing(world: World, body: Any) -> None:
    world.linked_user("alice")
    make_due(world, KEYS[2], reconcile_at=datetime.now(UTC) - timedelta(seconds=1), claim="c")
    world.journal.clear()
    assert publish(world.function("maintenance_worker"), body).status_code == 200
    world.assert_untouched()


@pytest.mark.parametrize(
    "envelope",
    [pubsub_envelope(b"work"), {"message": {"data": "!!"}}, {}],
    ids=["plain-text", "not-base64", "no-message"],
)
def test_undecodable_messages_are_acknowledged(world: World, envelope: Any) -> None:
    world.linked_user("alice")
    assert post_event(world.function("maintenance_worker"), envelope).status_code == 200
    world.assert_untouched()
