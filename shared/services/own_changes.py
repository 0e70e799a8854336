"""The user's own Calendar writes, so the sync can mark the matching changes ``by_me``.

Google Calendar does not say who last modified an event (the Event resource has a creator
and an organizer, no last modifier: https://developers.google.com/calendar/api/v3/reference/events),
so changes the user made through our calendar API are recognised by what we sent and what
Google answered us, as marks on the event's record, the document the sync reads for that
event anyway (``users/{uid}/cursors/{calendar}/events/{event}``; the event id is ours even
for an insert, so it is known before the call):

1. before the call, an intent (``own_intent``, the time it was written);
2. after an insert or patch, the mark of that exact version (the etag Google returned) in
   place of the intent; after a delete, a deletion mark, matched by event; if the call
   fails, the intent is withdrawn.

Google may notify, and a pass may read the event, before it answers us. A pass that sees a
change while an intent is open (younger than ``OWN_INTENT_WINDOW``, and the change not
older than the intent by Google's ``updated``) or the marked version sets ``by_me``
(``shared.sources.calendar``). A later change by someone else has another etag, so it is
never mistaken for ours; only a change by someone else to the same event, made while our
write to it is in flight, is. A mark written after a pass read the record survives the
pass's record write (a merge that deletes only the marks it read).

What bounds a stale mark (a version the sync never tells, e.g. the first of two quick
patches): it matches only its own version; the next record write of the event drops it
once older than ``OWN_MARK_RETENTION`` (a deletion mark as soon as the event is live
again), deleting the record drops its marks, and a document holding only marks (an event
the sync never recorded under that calendar, e.g. the ``primary`` spelling of a write to
another calendar) is deleted by Firestore TTL after the same retention.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from shared.sources.calendar import DELETED, own_intent, own_mark

__all__ = [
    "DELETED",
    "PRIMARY_CALENDAR",
    "OwnChangeStore",
    "marked_calendars",
    "own_intent",
    "own_mark",
]

PRIMARY_CALENDAR = "primary"  # the calendar the sync watches (shared.services.watches)


class OwnChangeStore(Protocol):
    """Port: marks on the event records of the user's own writes."""

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
        """Put ``mark`` (``own_intent`` or ``own_mark``, value ``now``) on the event's record
        under each calendar's cursor, removing the mark ``replacing`` in the same write."""
        ...

    def withdraw(self, uid: str, calendar_ids: Iterable[str], event_id: str, mark: str) -> None:
        """Remove ``mark`` from the event's records, where they exist."""
        ...


def marked_calendars(calendar_id: str) -> list[str]:
    """The cursor calendar ids a write to ``calendar_id`` is marked under.

    The app may name the primary calendar by its id (the user's address) or ``primary``;
    the sync watches ``primary`` and other followed calendars by id, and which id is the
    primary's is not known without a read, so both spellings are marked (the one no
    cursor reads is a mark-only document, deleted by TTL).
    """
    return list(dict.fromkeys([calendar_id, PRIMARY_CALENDAR]))
