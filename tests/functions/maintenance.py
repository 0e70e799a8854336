"""Driving fleet maintenance in process: make sources due as time would, tick, and deliver
the work the tick published to ``maintenance_worker``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug.test import TestResponse

from shared.ports.sync import SyncKey
from tests.functions.conftest import World, publish


def make_due(world: World, key: SyncKey, **fields: Any) -> None:
    """The source is due now, with ``fields`` set on its cursor document."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    world.sync.cursors[(key.uid, key.doc_id)].update(due_at=past, **fields)


def tick(world: World) -> TestResponse:
    """Cloud Scheduler's tick, delivered to ``watch_maintenance``."""
    return publish(world.function("watch_maintenance"), {"task": "tick"})


def run_work(world: World) -> list[dict[str, Any]]:
    """Deliver every published work message to ``maintenance_worker`` (and what those
    publish), each answered 200; the messages delivered."""
    worker = world.function("maintenance_worker")
    delivered = []
    while world.work.bodies:
        body = world.work.bodies.pop(0)
        assert publish(worker, body).status_code == 200
        delivered.append(body)
    return delivered


def cycle(world: World) -> list[dict[str, Any]]:
    """One tick and the work it published."""
    assert tick(world).status_code == 200
    return run_work(world)
