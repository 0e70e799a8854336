"""Calendar: ``events.list(syncToken)`` per calendar; 410 Gone → full resync by id sets.

The cursor keeps an index of event id → etag, so a full resync after a gap can tell
changed events from unchanged ones and find deletions (a full list returns no
cancellations).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.activity import ACTIVITY_RETENTION, ActivityItem, Kind, item_id
from shared.adapters.google_apis import build_service, error_status
from shared.scopes import Feature
from shared.services.sync import CursorState, SyncBatch, SyncKey
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.adapters.google_credentials import GoogleCredentialsProvider

_PAGE_SIZE = 250
_TITLE_MAX = 200


def _updated(event: dict[str, Any], now: datetime) -> datetime:
    value = event.get("updated")
    if not value:
        return now
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


def calendar_item(key: SyncKey, event: dict[str, Any], kind: Kind, now: datetime) -> ActivityItem:
    """A feed item for a changed or deleted event."""
    event_id = str(event["id"])
    version = str(event.get("etag") or "") if kind is Kind.CALENDAR_CHANGED else "deleted"
    return ActivityItem(
        id=item_id(kind, f"{key.calendar_id}/{event_id}", version),
        kind=kind,
        category=kind.category,
        resource_id=event_id,
        group_key=key.doc_id,
        title=(str(event.get("summary") or "")[:_TITLE_MAX] or None)
        if kind is Kind.CALENDAR_CHANGED
        else None,
        actor=None,
        occurred_at=_updated(event, now),
        created_at=now,
        expires_at=now + ACTIVITY_RETENTION,
    )


class CalendarSource:
    """Reads changes of one calendar since its sync token."""

    def __init__(self, credentials: GoogleCredentialsProvider, settings: Settings) -> None:
        self._credentials = credentials
        self._settings = settings

    def service(self, uid: str) -> Any:
        """A Calendar client as the user."""
        creds = self._credentials.for_user(uid, Feature.CALENDAR)
        return build_service("calendar", "v3", creds, self._settings)

    def fetch(self, key: SyncKey, state: CursorState, now: datetime) -> SyncBatch:
        """Incremental changes; a full resync when there is no token or it expired."""
        from googleapiclient.errors import HttpError

        service = self.service(key.uid)
        index = dict(state.index or {})
        if state.cursor:
            try:
                return self._incremental(service, key, state.cursor, index, now)
            except HttpError as exc:
                if error_status(exc) != 410:
                    raise
        return self._full(service, key, index, now, report=state.cursor is not None)

    def _pages(self, service: Any, calendar_id: str, **params: Any) -> tuple[list[Any], str]:
        events: list[Any] = []
        page_token = None
        while True:
            response = (
                service.events()
                .list(calendarId=calendar_id, maxResults=_PAGE_SIZE, pageToken=page_token, **params)
                .execute()
            )
            events.extend(response.get("items", []))
            page_token = response.get("nextPageToken")
            if not page_token:
                return events, str(response.get("nextSyncToken") or "")

    def _incremental(
        self, service: Any, key: SyncKey, token: str, index: dict[str, str], now: datetime
    ) -> SyncBatch:
        events, next_token = self._pages(
            service, key.calendar_id, syncToken=token, showDeleted=True
        )
        items = []
        for event in events:
            event_id = str(event["id"])
            if event.get("status") == "cancelled":
                if index.pop(event_id, None) is not None:  # unseen and gone: nothing to tell
                    items.append(calendar_item(key, event, Kind.CALENDAR_DELETED, now))
            elif index.get(event_id) != event.get("etag"):
                index[event_id] = str(event.get("etag") or "")
                items.append(calendar_item(key, event, Kind.CALENDAR_CHANGED, now))
        return SyncBatch(items, next_token or token, index, notes={"events": len(events)})

    def _full(
        self, service: Any, key: SyncKey, index: dict[str, str], now: datetime, *, report: bool
    ) -> SyncBatch:
        events, next_token = self._pages(service, key.calendar_id, showDeleted=False)
        current = {str(event["id"]): str(event.get("etag") or "") for event in events}
        items: list[ActivityItem] = []
        if report:
            for event in events:
                if index.get(str(event["id"])) != current[str(event["id"])]:
                    items.append(calendar_item(key, event, Kind.CALENDAR_CHANGED, now))
            for gone in sorted(set(index) - set(current)):
                items.append(calendar_item(key, {"id": gone}, Kind.CALENDAR_DELETED, now))
        notes = {"full_resync": 1} if report else {}
        return SyncBatch(items, next_token, current, notes=notes)

    def initial(self, key: SyncKey, now: datetime) -> CursorState:
        """The sync token and index of the calendar as it is now (nothing reported)."""
        batch = self._full(self.service(key.uid), key, {}, now, report=False)
        return CursorState(batch.cursor, batch.index)
