"""What Calendar event changes mean for the feed (the calls are in
``shared.adapters.calendar_source``).

The cursor keeps an index of event id → etag, so a full resync after a gap can tell
changed events from unchanged ones and find deletions (a full list returns no
cancellations).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.activity import ACTIVITY_RETENTION, ActivityItem, Kind, item_id
from shared.ports.sync import SyncKey

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


def incremental_items(
    key: SyncKey, events: list[dict[str, Any]], index: dict[str, str], now: datetime
) -> list[ActivityItem]:
    """Items for the events of an incremental list; updates ``index`` in place."""
    items = []
    for event in events:
        event_id = str(event["id"])
        if event.get("status") == "cancelled":
            if index.pop(event_id, None) is not None:  # unseen and gone: nothing to tell
                items.append(calendar_item(key, event, Kind.CALENDAR_DELETED, now))
        elif index.get(event_id) != event.get("etag"):
            index[event_id] = str(event.get("etag") or "")
            items.append(calendar_item(key, event, Kind.CALENDAR_CHANGED, now))
    return items


def full_items(
    key: SyncKey, events: list[dict[str, Any]], index: dict[str, str], now: datetime
) -> tuple[list[ActivityItem], dict[str, str]]:
    """Items for a full list compared with the stored index, and the new index."""
    current = {str(event["id"]): str(event.get("etag") or "") for event in events}
    items: list[ActivityItem] = []
    for event in events:
        if index.get(str(event["id"])) != current[str(event["id"])]:
            items.append(calendar_item(key, event, Kind.CALENDAR_CHANGED, now))
    for gone in sorted(set(index) - set(current)):
        items.append(calendar_item(key, {"id": gone}, Kind.CALENDAR_DELETED, now))
    return items, current
