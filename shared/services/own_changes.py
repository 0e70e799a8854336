"""The user's own Calendar writes, so the sync can mark the matching changes ``by_me``.

Google Calendar does not say who last modified an event (the Event resource has a creator
and an organizer, no last modifier: https://developers.google.com/calendar/api/v3/reference/events),
so changes the user made through our calendar API are recognised by what Google answered us:
after an insert or patch we put a mark for that exact version (the etag Google returned) on
the event's record, the document the sync reads for that event anyway
(``users/{uid}/cursors/{calendar}/events/{event}``); after a delete, a deletion mark,
matched by event. A sync pass that tells the marked version sets ``by_me`` and drops the
mark (``shared.sources.calendar``). A later change by someone else has another etag, so it
is never mistaken for ours.

Residual race: the mark is written after Google answers; a sync pass that reads the record
before that write (a few milliseconds) treats the change as someone else's, i.e. notifies
as before. A mark written after the pass read the record survives the pass's record write
(a merge that deletes only the marks it read) and is matched by a later pass.

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

from shared.sources.calendar import DELETED, own_mark

__all__ = ["DELETED", "PRIMARY_CALENDAR", "OwnChangeStore", "marked_calendars", "own_mark"]

PRIMARY_CALENDAR = "primary"  # the calendar the sync watches (shared.services.watches)


class OwnChangeStore(Protocol):
    """Port: marks on the event records of the user's own writes."""

    def record(
        self, uid: str, calendar_ids: Iterable[str], event_id: str, mark: str, now: datetime
    ) -> None:
        """Put ``mark`` (``own_mark``) on the event's record under each calendar's cursor."""
        ...


def marked_calendars(calendar_id: str) -> list[str]:
    """The cursor calendar ids a write to ``calendar_id`` is marked under.

    The app may name the primary calendar by its id (the user's address) or ``primary``;
    the sync watches ``primary`` and other followed calendars by id, and which id is the
    primary's is not known without a read, so both spellings are marked (the one no
    cursor reads is a mark-only document, deleted by TTL).
    """
    return list(dict.fromkeys([calendar_id, PRIMARY_CALENDAR]))
