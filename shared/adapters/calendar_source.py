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
from shared.ports.sync import CursorState, SyncBatch, SyncKey
from shared.ports.watches import ChannelRequest, WatchGrant
from shared.scopes import Feature
from shared.sources.calendar import full_items, incremental_items

_PAGE_SIZE = 250
_CHANNEL_LIFETIME = timedelta(days=7)


class CalendarSource:
    """Reads changes of one calendar since its sync token; opens and stops channels."""

    def __init__(self, gateway: GoogleGateway) -> None:
        self._gateway = gateway

    def _call(self, uid: str, make: Any, *, resend_safe: bool = True) -> Any:
        return self._gateway.call(uid, Feature.CALENDAR, make, resend_safe=resend_safe)

    def fetch(self, key: SyncKey, state: CursorState, now: datetime) -> SyncBatch:
        """Incremental changes; a full resync when there is no token or it expired."""
        index = dict(state.index or {})
        if state.cursor:
            try:
                events, token = self._pages(key, syncToken=state.cursor, showDeleted=True)
                items = incremental_items(key, events, index, now)
                return SyncBatch(items, token or state.cursor, index, {"events": len(events)})
            except GoogleFailure as failure:
                if failure.status != 410:
                    raise
        events, token = self._pages(key, showDeleted=False)
        items, current = full_items(key, events, index, now)
        if state.cursor is None:
            return SyncBatch([], token, current)  # the first listing reports nothing
        return SyncBatch(items, token, current, notes={"full_resync": 1})

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
        """The sync token and index of the calendar as it is now (nothing reported)."""
        events, token = self._pages(key, showDeleted=False)
        _, index = full_items(key, events, {}, now)
        return CursorState(token, index)

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
