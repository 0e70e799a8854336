"""Firestore adapter of ``OwnChangeStore``: own marks on the calendar event records.

A mark is the field ``own.<mark key>`` (the time it was written) of
``users/{uid}/cursors/{calendar}/events/{hash of event id}``, the record the sync already
reads for that event (``FirestoreSyncStore.record_ref``). A record that exists gets the
field by an update (the sync's fields untouched); an event the sync has not recorded yet
gets a document holding only ``id``, the marks and ``expires_at`` (Firestore TTL after
``OWN_MARK_RETENTION``), which the sync's first record write turns into a record (it
removes ``expires_at``), so TTL only ever deletes documents that are marks alone.

One call is two round trips whatever the number of calendars: a batch get of the
documents, then one atomic batch of updates (documents that exist) and creates (those that
do not). The sync creating or deleting a document between the two fails the batch
(``AlreadyExists``, ``NotFound``), and the call reads again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.ports.sync import SourceKind, SyncKey
from shared.sources.calendar import MARK_EXPIRY_FIELD, MARKS_FIELD, OWN_MARK_RETENTION

if TYPE_CHECKING:
    from google.cloud import firestore

    from shared.adapters.sync_store import FirestoreSyncStore

# Each retry follows a record write or deletion of the same event by the sync in the
# milliseconds between our read and our write; three in a row do not happen but in a bug.
_ATTEMPTS = 3


class FirestoreOwnMarks:
    """Writes the user's own Calendar writes onto the event records."""

    def __init__(self, client: firestore.Client, store: FirestoreSyncStore) -> None:
        self._db = client
        self._store = store

    def _refs(
        self, uid: str, calendar_ids: Iterable[str], event_id: str
    ) -> list[firestore.DocumentReference]:
        keys = (SyncKey(uid, SourceKind.CALENDAR, calendar) for calendar in calendar_ids)
        return [self._store.record_ref(key, event_id) for key in dict.fromkeys(keys)]

    def record(
        self,
        uid: str,
        calendar_ids: Iterable[str],
        event_id: str,
        mark: str,
        now: datetime,
        *,
        replacing: str | None = None,
    ) -> None:
        """Put ``own.<mark>: now`` on the event's document under each calendar's cursor, and
        delete ``own.<replacing>`` in the same write; raises the last conflict if the sync
        wrote the documents between our read and write ``_ATTEMPTS`` times."""
        from google.api_core.exceptions import AlreadyExists, NotFound
        from google.cloud import firestore

        update: dict[str, Any] = {f"{MARKS_FIELD}.{mark}": now}
        if replacing is not None:
            update[f"{MARKS_FIELD}.{replacing}"] = firestore.DELETE_FIELD
        created = {
            "id": event_id,
            MARKS_FIELD: {mark: now},
            MARK_EXPIRY_FIELD: now + OWN_MARK_RETENTION,
        }
        refs = self._refs(uid, calendar_ids, event_id)
        for attempt in range(_ATTEMPTS):
            batch = self._db.batch()
            for snapshot in self._db.get_all(refs):
                if snapshot.exists:
                    batch.update(snapshot.reference, update)
                else:
                    batch.create(snapshot.reference, created)
            try:
                batch.commit()
                return
            except (AlreadyExists, NotFound):
                if attempt == _ATTEMPTS - 1:
                    raise

    def withdraw(self, uid: str, calendar_ids: Iterable[str], event_id: str, mark: str) -> None:
        """Delete ``own.<mark>`` from the event's documents that exist (a mark-only document
        left with no mark is deleted by its TTL)."""
        from google.api_core.exceptions import NotFound
        from google.cloud import firestore

        for ref in self._refs(uid, calendar_ids, event_id):
            try:
                ref.update({f"{MARKS_FIELD}.{mark}": firestore.DELETE_FIELD})
            except NotFound:
                continue
