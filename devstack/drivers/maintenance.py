"""Drive maintenance from outside: make a user's sources due as time would, publish the
scheduler's tick. Shared by the tests and the scale benchmark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from google.cloud.firestore import Client

from devstack.drivers.pubsub import PubSub


def make_due(db: Client, uid: str, source: str | None = None, **fields: Any) -> None:
    """Make the user's sources (or the one with ``source``) due now, with ``fields`` set on
    their cursor documents as if time had passed (e.g. ``reconcile_at`` in the past)."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    for doc in db.collection(f"users/{uid}/cursors").stream():
        if source is None or (doc.to_dict() or {}).get("source") == source:
            doc.reference.update({"due_at": past, **fields})


def reconcile_due(db: Client, uid: str, source: str | None = None) -> None:
    """Make the user's sources due for a reconcile, with no push since the last one."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    make_due(db, uid, source, reconcile_at=past, last_notified_at=None)


def tick(pubsub: PubSub) -> None:
    """Publish the scheduler's maintenance tick."""
    pubsub.publish_json("maintenance-ticks", {"task": "tick"})
