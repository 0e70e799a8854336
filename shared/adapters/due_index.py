"""Firestore adapter of the due index: cursor documents queried by ``due_at``.

One collection-group query per page (``cursors`` where ``due_at <= now`` ordered by
``due_at``, paged with a query cursor), and one ``BatchWrite`` RPC per page to claim: each
write carries a precondition on the document's update time, and unlike a transaction or a
``WriteBatch`` a ``BatchWrite`` applies or refuses each write on its own
(https://cloud.google.com/firestore/docs/reference/rpc/google.firestore.v1#google.firestore.v1.Firestore.BatchWrite).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from shared.adapters.sync_store import _key
from shared.firestore import Collections, where
from shared.ports.maintenance import DueSource
from shared.ports.sync import SyncKey

if TYPE_CHECKING:
    from google.cloud import firestore

_OK = 0  # google.rpc.Code.OK
BATCH_WRITE_LIMIT = 500  # writes per BatchWrite request


class FirestoreDueIndex:
    """The ``DueIndex`` port on ``users/*/cursors/*``."""

    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def due(self, now: datetime, limit: int, after: DueSource | None) -> list[DueSource]:
        """Sources due at ``now``, oldest first (each snapshot kept as the claim token)."""
        query = (
            self._db.collection_group(Collections.CURSORS)
            .where(filter=where("due_at", "<=", now))
            .order_by("due_at")
            .limit(limit)
        )
        if after is not None:
            query = query.start_after(after.token)
        return [DueSource(_key(snapshot.to_dict() or {}), snapshot) for snapshot in query.stream()]

    def claim(self, items: list[DueSource], cycle: str, until: datetime) -> list[SyncKey]:
        """Claim with update-time preconditions, ``BATCH_WRITE_LIMIT`` writes per RPC."""
        from google.cloud.firestore_v1.bulk_batch import BulkWriteBatch

        claimed: list[SyncKey] = []
        for start in range(0, len(items), BATCH_WRITE_LIMIT):
            chunk = items[start : start + BATCH_WRITE_LIMIT]
            batch = BulkWriteBatch(self._db)
            for item in chunk:
                batch.update(
                    item.token.reference,
                    {"due_at": until, "claim": cycle},
                    option=self._db.write_option(last_update_time=item.token.update_time),
                )
            response = batch.commit()
            claimed += [
                item.key
                for item, status in zip(chunk, response.status, strict=True)
                if status.code == _OK
            ]
        return claimed
