"""What a Drive change means for the feed (the calls are in ``shared.adapters.drive_source``;
the meaning of a change in ``shared.sources.drive_changes``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.activity import ACTIVITY_RETENTION, ActivityItem, Kind, item_id
from shared.sources.drive_changes import meaning

FIELDS = (
    "nextPageToken,newStartPageToken,changes(changeType,time,removed,fileId,"
    "file(id,name,mimeType,trashed,createdTime,modifiedTime,parents,"
    "lastModifyingUser(displayName,me)))"
)


def _time(value: str | None, default: datetime) -> datetime:
    if not value:
        return default
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def drive_items(
    changes: list[dict[str, Any]], index: dict[str, str], last_pass: datetime | None, now: datetime
) -> list[ActivityItem]:
    """Feed items of a page of changes, classified against (and updating) the seen-file
    ``index``; changes that mean nothing to the user (see ``meaning``) are left out."""
    items = []
    for change in changes:
        if change.get("changeType", "file") != "file" or not change.get("fileId"):
            continue
        kind = meaning(change, index, last_pass, now)
        if kind is not None:
            items.append(drive_item(change, kind, now))
    return items


def drive_item(change: dict[str, Any], kind: Kind, now: datetime) -> ActivityItem:
    """The feed item of one file change of ``kind``; a removal has no file object."""
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
