"""The user's own Calendar writes, so the sync can mark the matching changes ``by_me``.

Google Calendar does not say who last modified an event (the Event resource has a creator
and an organizer, no last modifier: https://developers.google.com/calendar/api/v3/reference/events),
so changes the user made through our calendar API are recognised by what we sent and what
Google answered us, as marks on the event's record, the document the sync reads for that
event anyway (``users/{uid}/cursors/{calendar}/events/{event}``; the event id is ours even
for an insert, so it is known before the call):

1. before the call, an intent (``own_intent``, the time it was written);
2. after an insert or patch, the mark of that exact version (the etag Google returned) in
   place of the intent; after a delete, a deletion mark, matched by event;
3. if Google refused (a 4xx), the intent is withdrawn. A timeout or 5xx may have been
   applied, and so may a 412, 409 or 410: the gateway resends a write after a 5xx, and the
   resend of an applied write meets our own change. So a 412 leaves the intent open, as a
   timeout or 5xx does; a 409 on an insert (the id is ours) marks the existing version,
   and a 410 on a delete marks the deletion.

Google may notify, and a pass may read the event, before it answers us. A pass that sees a
change while an intent is open (younger than ``OWN_INTENT_WINDOW``, and the change not
older than the intent by Google's ``updated``) or the marked version sets ``by_me``
(``shared.sources.calendar``); an occurrence of a recurring event also by its series'
intent or deletion mark. A later change by someone else has another etag, so it is never
mistaken for ours. Taken for ours are only someone else's changes to the same event or
series while an intent is open: during our write, and for the rest of the window after a
write that may have been applied (or a missed event in a full resync, which has no
``updated``). A mark written after a pass read the record survives the pass's record write
(a merge that deletes only the marks it read).

What bounds a stale mark (a version the sync never tells, e.g. the first of two quick
patches): it matches only its own version; the next record write of the event drops it
once older than ``OWN_MARK_RETENTION`` (a deletion mark as soon as the event is live
again, an intent once its window closed), deleting the record drops its marks, and a
document holding only marks (an event the sync never recorded under that calendar, e.g.
the ``primary`` spelling of a write to another calendar) is deleted by Firestore TTL after
the same retention. A mark on a record the sync never writes again stays, a small field.
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
