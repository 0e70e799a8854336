"""Firestore adapter of ``OwnChangeStore``: ``users/{uid}/own_changes/{item_id}``.

Fields: ``created_at``, ``expires_at`` (Firestore TTL after ``OWN_CHANGE_RETENTION``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared.firestore import Collections

if TYPE_CHECKING:
    from google.cloud import firestore


# Longer than a sync can lag behind the write (reconcile runs every 30 minutes).
OWN_CHANGE_RETENTION = timedelta(days=2)


class FirestoreOwnChanges:
    """Records and looks up the user's own writes by feed item id."""

    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def _collection(self, uid: str) -> firestore.CollectionReference:
        return (
            self._db.collection(Collections.USERS).document(uid).collection(Collections.OWN_CHANGES)
        )

    def record(self, uid: str, item_ids: Iterable[str], now: datetime) -> None:
        """One blind write per id (idempotent)."""
        batch = self._db.batch()
        for item in item_ids:
            batch.set(
                self._collection(uid).document(item),
                {"created_at": now, "expires_at": now + OWN_CHANGE_RETENTION},
            )
        batch.commit()

    def known(self, uid: str, item_ids: Iterable[str]) -> set[str]:
        """The recorded ids among ``item_ids``, in one batched read."""
        refs = [self._collection(uid).document(item) for item in dict.fromkeys(item_ids)]
        if not refs:
            return set()
        return {snapshot.id for snapshot in self._db.get_all(refs) if snapshot.exists}
