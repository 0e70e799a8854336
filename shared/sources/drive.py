"""Drive: ``changes.list`` from the stored page token to ``newStartPageToken``."""

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

_FIELDS = (
    "nextPageToken,newStartPageToken,changes(changeType,time,removed,fileId,"
    "file(id,name,mimeType,trashed,createdTime,modifiedTime,lastModifyingUser(displayName)))"
)
_PAGE_SIZE = 100


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
        occurred_at=_time(change.get("time"), now),
        created_at=now,
        expires_at=now + ACTIVITY_RETENTION,
    )


class DriveSource:
    """Reads Drive changes since a page token."""

    def __init__(self, credentials: GoogleCredentialsProvider, settings: Settings) -> None:
        self._credentials = credentials
        self._settings = settings

    def service(self, uid: str) -> Any:
        """A Drive client as the user."""
        creds = self._credentials.for_user(uid, Feature.DRIVE)
        return build_service("drive", "v3", creds, self._settings)

    def fetch(self, key: SyncKey, state: CursorState, now: datetime) -> SyncBatch:
        """Every change up to the new start page token; an invalid token restarts."""
        from googleapiclient.errors import HttpError

        service = self.service(key.uid)
        token = state.cursor
        items: list[ActivityItem] = []
        pages = 0
        try:
            while token:
                response = (
                    service.changes()
                    .list(
                        pageToken=token,
                        pageSize=_PAGE_SIZE,
                        includeItemsFromAllDrives=True,
                        supportsAllDrives=True,
                        includeRemoved=True,
                        spaces="drive",
                        fields=_FIELDS,
                    )
                    .execute()
                )
                pages += 1
                for change in response.get("changes", []):
                    item = drive_item(change, now)
                    if item is not None:
                        items.append(item)
                if response.get("newStartPageToken"):
                    return SyncBatch(
                        items, str(response["newStartPageToken"]), notes={"pages": pages}
                    )
                token = response.get("nextPageToken")
        except HttpError as exc:
            if error_status(exc) not in (400, 404):
                raise
        # An invalid or missing page token: start again from now.
        return SyncBatch([], self.start_page_token(key.uid), notes={"page_token_reset": 1})

    def start_page_token(self, uid: str) -> str:
        """``changes.getStartPageToken`` across My Drive and shared drives."""
        response = self.service(uid).changes().getStartPageToken(supportsAllDrives=True).execute()
        return str(response["startPageToken"])
