"""What a Drive change means for the feed (the calls are in ``shared.adapters.drive_source``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.activity import ACTIVITY_RETENTION, ActivityItem, Kind, item_id

FIELDS = (
    "nextPageToken,newStartPageToken,changes(changeType,time,removed,fileId,"
    "file(id,name,mimeType,trashed,createdTime,modifiedTime,lastModifyingUser(displayName,me)))"
)


def _time(value: str | None, default: datetime) -> datetime:
    if not value:
        return default
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def classify(change: dict[str, Any]) -> Kind:
    """created / changed / deleted; removed and trashed files are deletions."""
    file = change.get("file")
    if change.get("removed") or (file and file.get("trashed")):
        return Kind.DRIVE_DELETED
    if file and file.get("createdTime") and file.get("createdTime") == file.get("modifiedTime"):
        return Kind.DRIVE_CREATED
    return Kind.DRIVE_CHANGED


def drive_item(change: dict[str, Any], now: datetime) -> ActivityItem | None:
    """A feed item for one change; changes without a file object are kept."""
    if change.get("changeType", "file") != "file" or not change.get("fileId"):
        return None
    kind = classify(change)
    file = change.get("file") or {}
    file_id = str(change["fileId"])
    return ActivityItem(
        id=item_id(kind, file_id, str(change.get("time", ""))),
        kind=kind,
        category=kind.category,
        resource_id=file_id,
        group_key=file_id,
        title=file.get("name"),
        actor=(file.get("lastModifyingUser") or {}).get("displayName"),
        by_me=(file.get("lastModifyingUser") or {}).get("me") is True,
        occurred_at=_time(change.get("time"), now),
        created_at=now,
        expires_at=now + ACTIVITY_RETENTION,
    )
