"""The user's own Calendar writes, so the sync can mark the matching changes ``by_me``.

Google Calendar does not say who last modified an event (the Event resource has a creator
and an organizer, no last modifier: https://developers.google.com/calendar/api/v3/reference/events),
so changes the user made through our calendar API are recognised by what Google answered us:
after an insert or patch we record the feed item id the sync will compute for that exact
version (event id + the etag Google returned), after a delete the id of its deletion item.
A sync pass that produces one of these ids marks the item ``by_me``. A later change by
someone else has another etag, so it is never mistaken for ours.

Residual race: the record is written after Google answers; a sync pass that reads the change
before that write (a few milliseconds) treats it as someone else's, i.e. notifies as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from shared.activity import ActivityItem, Kind, item_id
from shared.ports.sync import CursorState, Source, SyncBatch, SyncKey

PRIMARY_CALENDAR = "primary"  # the calendar the sync watches (shared.services.watches)


class OwnChangeStore(Protocol):
    """Port: ids of feed items that will describe the user's own writes."""

    def record(self, uid: str, item_ids: Iterable[str], now: datetime) -> None: ...

    def known(self, uid: str, item_ids: Iterable[str]) -> set[str]:
        """The subset of ``item_ids`` recorded as the user's own."""
        ...


DELETED = None  # the "etag" of a deletion


def calendar_item_ids(calendar_id: str, event_id: str, etag: str | None) -> list[str]:
    """The feed item ids a sync will give this write: the change to version ``etag``, or the
    deletion (``DELETED``, matched by event: see ``_own_id``); changes have the same ids as
    ``shared.sources.calendar``'s items.

    The app may name the primary calendar by its id (the user's address) or ``primary``;
    the sync watches ``primary``, so both spellings are recorded.
    """
    kind = Kind.CALENDAR_DELETED if etag is DELETED else Kind.CALENDAR_CHANGED
    version = "deleted" if etag is DELETED else etag
    calendars = dict.fromkeys([calendar_id, PRIMARY_CALENDAR])
    return [item_id(kind, f"{calendar}/{event_id}", version) for calendar in calendars]


class MarkOwnChanges:
    """A ``Source`` that marks the items of the user's own recorded writes ``by_me``."""

    def __init__(self, source: Source, own: OwnChangeStore) -> None:
        self._source = source
        self._own = own

    def fetch(self, key: SyncKey, state: CursorState, now: datetime) -> SyncBatch:
        """The wrapped source's batch, with ``by_me`` set where the write was ours."""
        batch = self._source.fetch(key, state, now)
        if not batch.items:
            return batch
        mine = self._own.known(key.uid, [_own_id(item) for item in batch.items])
        if not mine:
            return batch
        items = [
            item.model_copy(update={"by_me": True}) if _own_id(item) in mine else item
            for item in batch.items
        ]
        return replace(batch, items=items)


def _own_id(item: ActivityItem) -> str:
    """The id an own write recorded for this item. A deletion's feed item is versioned by
    the state it ended (unknown to the deleter: Google answers a delete with no body), so
    deletions are matched by event with the ``DELETED`` marker."""
    if item.kind is Kind.CALENDAR_DELETED and item.calendar_id is not None:
        return item_id(Kind.CALENDAR_DELETED, f"{item.calendar_id}/{item.resource_id}", "deleted")
    return item.id
