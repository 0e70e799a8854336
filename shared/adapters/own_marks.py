"""Firestore adapter of ``OwnChangeStore``: own marks on the calendar event records.

A mark is the field ``own.<mark key>`` (the time it was written) of
``users/{uid}/cursors/{calendar}/events/{hash of event id}``, the record the sync already
reads for that event (``FirestoreSyncStore.record_ref``). A record that exists gets the
field by an update (the sync's fields untouched); an event the sync has not recorded yet
gets a document holding only ``id``, the mark and ``expires_at`` (Firestore TTL after
``OWN_MARK_RETENTION``), which the sync's first record write turns into a record (it
removes ``expires_at``), so TTL only ever deletes documents that are marks alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from shared.ports.sync import SourceKind, SyncKey
from shared.sources.calendar import MARK_EXPIRY_FIELD, MARKS_FIELD, OWN_MARK_RETENTION

if TYPE_CHECKING:
    from shared.adapters.sync_store import FirestoreSyncStore


class FirestoreOwnMarks:
    """Writes the user's own Calendar writes onto the event records."""

    def __init__(self, store: FirestoreSyncStore) -> None:
        self._store = store

    def record(
        self, uid: str, calendar_ids: Iterable[str], event_id: str, mark: str, now: datetime
    ) -> None:
        """Mark ``event_id`` under each calendar's cursor: an update of the one field when
        the record exists, else a create of a mark-only document; a create that loses to
        the sync's first record write falls back to the update (one retry is enough: the
        document exists from then on, and nothing but a pass's ``gone`` deletes it)."""
        from google.api_core.exceptions import AlreadyExists, NotFound

        for calendar_id in dict.fromkeys(calendar_ids):
            key = SyncKey(uid, SourceKind.CALENDAR, calendar_id)
            ref = self._store.record_ref(key, event_id)
            try:
                ref.update({f"{MARKS_FIELD}.{mark}": now})
                continue
            except NotFound:
                pass
            try:
                ref.create(
                    {
                        "id": event_id,
                        MARKS_FIELD: {mark: now},
                        MARK_EXPIRY_FIELD: now + OWN_MARK_RETENTION,
                    }
                )
            except AlreadyExists:
                ref.update({f"{MARKS_FIELD}.{mark}": now})
