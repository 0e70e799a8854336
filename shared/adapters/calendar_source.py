"""Calendar through the gateway: ``events.list(syncToken)`` per calendar (410 Gone → a
full resync compared by id sets), and the events channel (``events.watch``,
``channels.stop``).

Google: https://developers.google.com/workspace/calendar/api/guides/sync and
https://developers.google.com/workspace/calendar/api/guides/push.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.adapters.google_channels import channel_body, stop_channel, watch_grant
from shared.adapters.google_gateway import GoogleGateway
from shared.google_errors import GoogleFailure
from shared.ports.sync import CursorState, EventRecords, SyncBatch, SyncKey
from shared.ports.watches import ChannelRequest, WatchGrant
from shared.scopes import Feature
from shared.sources.calendar import full_pass, ids_to_look_up, incremental_pass, records_and_marks

_PAGE_SIZE = 250
_MAX_LIST_PAGES = 10  # a calendar list of more than 2,500 entries is cut there
PRIMARY = "primary"
_CHANNEL_LIFETIME = timedelta(days=7)


class CalendarSource:
    """Reads changes of one calendar since its sync token; opens and stops channels; reads
    the user's calendar list."""

    def __init__(self, gateway: GoogleGateway, records: EventRecords) -> None:
        self._gateway = gateway
        self._records = records

    def _call(self, uid: str, make: Any, *, resend_safe: bool = True) -> Any:
        return self._gateway.call(uid, Feature.CALENDAR, make, resend_safe=resend_safe)

    def fetch(self, key: SyncKey, state: CursorState, now: datetime) -> SyncBatch:
        """One pass's reads (``_fetch``), the user's credentials read once for all of them."""
        with self._gateway.reusing_credentials():
            return self._fetch(key, state, now)

    def _fetch(self, key: SyncKey, state: CursorState, now: datetime) -> SyncBatch:
        """Incremental changes; a full resync when there is no token or it expired."""
        if state.cursor:
            try:
                events, token = self._pages(key, syncToken=state.cursor, showDeleted=True)
            except GoogleFailure as failure:
                if failure.status != 410:
                    raise
            else:
                stored = self._records.records_of(key, ids_to_look_up(events))
                known, own = records_and_marks(stored)
                result = incremental_pass(key, events, known, now, own)
                notes = {"events": len(events), "skipped_events": result.skipped}
                return SyncBatch(
                    result.items, token or state.cursor, notes=notes, records=result.writes
                )
        events, token = self._pages(key, showDeleted=False)
        known, own = records_and_marks(self._records.all_records(key))
        report = state.cursor is not None  # the first listing reports nothing
        result = full_pass(key, events, known, now, report=report, own=own)
        notes = {"events": len(events), "full_resync": 1, "skipped_events": result.skipped}
        return SyncBatch(result.items, token, notes=notes, records=result.writes)

    def _pages(self, key: SyncKey, **params: Any) -> tuple[list[Any], str]:
        events: list[Any] = []
        page_token = None
        while True:
            response = self._call(
                key.uid,
                lambda s, page_token=page_token: s.events().list(
                    calendarId=key.calendar_id,
                    maxResults=_PAGE_SIZE,
                    pageToken=page_token,
                    **params,
                ),
            )
            events.extend(response.get("items", []))
            page_token = response.get("nextPageToken")
            if not page_token:
                return events, str(response.get("nextSyncToken") or "")

    def start_cursor(self, key: SyncKey, now: datetime) -> CursorState:
        """The sync token and event records of the calendar as it is now (nothing reported)."""
        events, token = self._pages(key, showDeleted=False)
        return CursorState(token, records=full_pass(key, events, {}, now, report=False).writes)

    def followed_calendars(self, uid: str) -> list[str]:
        """Ids of the calendars in the user's list that the user can read and has selected.

        ``calendarList.list`` with ``minAccessRole=reader`` leaves out free/busy-only
        calendars; entries the user unticked (``selected`` false), hid or that are
        ``deleted`` are not followed
        (https://developers.google.com/workspace/calendar/api/v3/reference/calendarList).
        """
        followed: list[str] = []
        page_token = None
        for _ in range(_MAX_LIST_PAGES):
            response = self._call(
                uid,
                lambda s, page_token=page_token: s.calendarList().list(
                    minAccessRole="reader", maxResults=250, pageToken=page_token
                ),
            )
            for entry in response.get("items") or []:
                if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                    continue
                if entry.get("primary") is True or (
                    entry.get("selected") is True
                    and entry.get("deleted") is not True
                    and entry.get("hidden") is not True
                ):
                    followed.append(PRIMARY if entry.get("primary") is True else entry["id"])
            page_token = response.get("nextPageToken")
            if not page_token:
                break
        return followed

    def watch(self, key: SyncKey, cursor: str | None, request: ChannelRequest) -> WatchGrant:
        """``events.watch`` on the key's calendar."""
        response = self._call(
            key.uid,
            lambda s: s.events().watch(
                calendarId=key.calendar_id,
                body=channel_body(request),
            ),
            resend_safe=False,
        )
        return watch_grant(response, _CHANNEL_LIFETIME)

    def stop(self, uid: str, channel_id: str, resource_id: str) -> None:
        """``channels.stop`` on the Calendar API."""
        stop_channel(self._gateway, uid, Feature.CALENDAR, channel_id, resource_id)
