"""Gmail: ``history.list`` from the stored historyId, then metadata of added INBOX mail."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

from shared.activity import ACTIVITY_RETENTION, ActivityItem, Kind, item_id
from shared.adapters.google_apis import build_service, error_status
from shared.scopes import Feature
from shared.services.sync import CursorState, SyncBatch, SyncKey
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.adapters.google_credentials import GoogleCredentialsProvider

_PAGE_SIZE = 500
_TITLE_MAX = 200


def _header(message: dict[str, Any], name: str) -> str | None:
    for header in message.get("payload", {}).get("headers", []):
        if str(header.get("name", "")).lower() == name.lower():
            return str(header.get("value", ""))
    return None


def mail_item(message: dict[str, Any], now: datetime) -> ActivityItem:
    """A feed item from a message's metadata (sender name, subject; never the body)."""
    sender_name, sender_address = parseaddr(_header(message, "From") or "")
    subject = (_header(message, "Subject") or "")[:_TITLE_MAX]
    millis = int(message.get("internalDate") or 0)
    occurred = datetime.fromtimestamp(millis / 1000, UTC) if millis else now
    return ActivityItem(
        id=item_id(Kind.MAIL_RECEIVED, str(message["id"]), ""),
        kind=Kind.MAIL_RECEIVED,
        category=Kind.MAIL_RECEIVED.category,
        resource_id=str(message["id"]),
        group_key=str(message.get("threadId") or message["id"]),
        title=subject or None,
        actor=sender_name or sender_address or None,
        occurred_at=occurred,
        created_at=now,
        expires_at=now + ACTIVITY_RETENTION,
    )


class GmailSource:
    """Reads new INBOX messages since a historyId."""

    def __init__(self, credentials: GoogleCredentialsProvider, settings: Settings) -> None:
        self._credentials = credentials
        self._settings = settings

    def _service(self, uid: str) -> Any:
        creds = self._credentials.for_user(uid, Feature.GMAIL)
        return build_service("gmail", "v1", creds, self._settings)

    def fetch(self, key: SyncKey, state: CursorState, now: datetime) -> SyncBatch:
        """New mail since the cursor; a too-old cursor restarts at the current profile."""
        from googleapiclient.errors import HttpError

        service = self._service(key.uid)
        start = state.cursor or "0"
        try:
            message_ids, latest = self._history(service, start)
        except HttpError as exc:
            if error_status(exc) != 404:
                raise
            # The stored historyId is too old: skip to now, without pushing old mail.
            profile = service.users().getProfile(userId="me").execute()
            return SyncBatch([], str(profile["historyId"]), notes={"history_reset": 1})
        items = []
        for message_id in message_ids:
            try:
                message = (
                    service.users()
                    .messages()
                    .get(
                        userId="me",
                        id=message_id,
                        format="metadata",
                        metadataHeaders=["From", "Subject", "Date"],
                    )
                    .execute()
                )
            except HttpError as exc:
                if error_status(exc) == 404:
                    continue  # deleted before we looked: nothing to tell
                raise
            items.append(mail_item(message, now))
        cursor = str(max(int(start), int(latest)))
        return SyncBatch(items, cursor, notes={"history_pages": 1})

    def _history(self, service: Any, start: str) -> tuple[list[str], str]:
        ids: list[str] = []
        latest = start
        page_token = None
        while True:
            response = (
                service.users()
                .history()
                .list(
                    userId="me",
                    startHistoryId=start,
                    historyTypes="messageAdded",
                    labelId="INBOX",
                    maxResults=_PAGE_SIZE,
                    pageToken=page_token,
                )
                .execute()
            )
            for record in response.get("history", []):
                for added in record.get("messagesAdded", []):
                    message = added.get("message", {})
                    if "INBOX" in message.get("labelIds", ["INBOX"]) and message["id"] not in ids:
                        ids.append(str(message["id"]))
            latest = str(response.get("historyId") or latest)
            page_token = response.get("nextPageToken")
            if not page_token:
                return ids, latest

    def current_history_id(self, uid: str) -> tuple[str, str]:
        """The mailbox's address and current historyId."""
        profile = self._service(uid).users().getProfile(userId="me").execute()
        return str(profile["emailAddress"]), str(profile["historyId"])

    def watch(self, uid: str, topic: str) -> tuple[str, datetime]:
        """``users.watch`` on INBOX; returns the starting historyId and the expiration."""
        response = (
            self._service(uid)
            .users()
            .watch(
                userId="me",
                body={"topicName": topic, "labelIds": ["INBOX"], "labelFilterBehavior": "include"},
            )
            .execute()
        )
        expires = datetime.fromtimestamp(int(response["expiration"]) / 1000, UTC)
        return str(response["historyId"]), expires

    def stop(self, uid: str) -> None:
        """``users.stop``: no more notifications for this mailbox."""
        self._service(uid).users().stop(userId="me").execute()
