"""Gmail through the gateway: ``history.list`` from the stored historyId, then metadata of
added INBOX mail; and the mailbox watch (``users.watch``, ``users.stop``).

Google: a historyId older than about a week answers 404 on ``history.list``
(https://developers.google.com/workspace/gmail/api/guides/sync#partial_synchronization);
``users.watch`` must be renewed at least every 7 days
(https://developers.google.com/workspace/gmail/api/guides/push#renewing_mailbox_watch).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.adapters.google_gateway import GoogleGateway
from shared.google_errors import GoogleFailure
from shared.ports.sync import CursorState, SyncBatch, SyncKey
from shared.scopes import Feature
from shared.sources.gmail import mail_item
from shared.sources.mail_recovery import (
    RECOVERY_MAX_MESSAGES,
    received_since,
    recovery_since,
)

_PAGE_SIZE = 500


class GmailSource:
    """Reads new INBOX messages since a historyId; watches and stops the mailbox."""

    def __init__(self, gateway: GoogleGateway) -> None:
        self._gateway = gateway

    def _call(self, uid: str, make: Any, *, resend_safe: bool = True) -> Any:
        return self._gateway.call(uid, Feature.GMAIL, make, resend_safe=resend_safe)

    def fetch(self, key: SyncKey, state: CursorState, now: datetime) -> SyncBatch:
        """One pass's reads (``_fetch``), the user's credentials read once for all of them."""
        with self._gateway.reusing_credentials():
            return self._fetch(key, state, now)

    def _fetch(self, key: SyncKey, state: CursorState, now: datetime) -> SyncBatch:
        """New mail since the cursor; a too-old cursor restarts at the current profile."""
        start = state.cursor or "0"
        try:
            message_ids, latest = self._history(key.uid, start)
        except GoogleFailure as failure:
            if failure.status != 404:
                raise
            return self._recover(key.uid, state, now)
        items = [mail_item(message, now) for message in self._metadata(key.uid, message_ids)]
        cursor = str(max(int(start), int(latest)))
        return SyncBatch(items, cursor, notes={"history_pages": 1})

    def _recover(self, uid: str, state: CursorState, now: datetime) -> SyncBatch:
        """The stored historyId is too old (404): restart at the profile's, and record the
        INBOX mail received since the last committed pass (``shared.sources.mail_recovery``)."""
        # Read first: mail arriving after it is in the history from here on.
        _, history_id = self.profile(uid)
        since = recovery_since(state.synced_at)
        if since is None:
            return SyncBatch([], history_id, notes={"history_reset": 1})
        listed = self._call(
            uid,
            lambda s: (
                s.users()
                .messages()
                .list(userId="me", labelIds=["INBOX"], maxResults=RECOVERY_MAX_MESSAGES)
            ),
        )
        ids = [str(m["id"]) for m in listed.get("messages") or [] if m and m.get("id")]
        recent = [m for m in self._metadata(uid, ids) if received_since(m, since)]
        notes = {"history_reset": 1, "recovered": len(recent)}
        if len(recent) == len(ids) and listed.get("nextPageToken"):
            # Every listed mail is recent and there is more: the bound cut the burst.
            notes["recovery_truncated"] = 1
        return SyncBatch([mail_item(m, now) for m in recent], history_id, notes=notes)

    def _metadata(self, uid: str, message_ids: list[str]) -> list[dict[str, Any]]:
        """``messages.get`` (metadata: From, Subject, Date) of each id still there."""
        messages = []
        for message_id in message_ids:
            try:
                message = self._call(
                    uid,
                    lambda s, message_id=message_id: (
                        s.users()
                        .messages()
                        .get(
                            userId="me",
                            id=message_id,
                            format="metadata",
                            metadataHeaders=["From", "Subject", "Date"],
                        )
                    ),
                )
            except GoogleFailure as failure:
                if failure.status == 404:
                    continue  # deleted before we looked: nothing to tell
                raise
            messages.append(message)
        return messages

    def _history(self, uid: str, start: str) -> tuple[list[str], str]:
        # Ordered and unique: a message added twice in the window is read once.
        ids: dict[str, None] = {}
        latest = start
        page_token = None
        while True:
            response = self._call(
                uid,
                lambda s, page_token=page_token: (
                    s.users()
                    .history()
                    .list(
                        userId="me",
                        startHistoryId=start,
                        historyTypes="messageAdded",
                        labelId="INBOX",
                        maxResults=_PAGE_SIZE,
                        pageToken=page_token,
                    )
                ),
            )
            for record in response.get("history", []):
                for added in record.get("messagesAdded", []):
                    message = added.get("message") or {}
                    if message.get("id") and "INBOX" in message.get("labelIds", ["INBOX"]):
                        ids.setdefault(str(message["id"]))
            latest = str(response.get("historyId") or latest)
            page_token = response.get("nextPageToken")
            if not page_token:
                return list(ids), latest

    def profile(self, uid: str) -> tuple[str, str]:
        """The mailbox's address and current historyId (``users.getProfile``)."""
        profile = self._call(uid, lambda s: s.users().getProfile(userId="me"))
        return str(profile["emailAddress"]), str(profile["historyId"])

    def watch(self, uid: str, topic: str) -> tuple[str, datetime]:
        """``users.watch`` on INBOX; returns the starting historyId and the expiration."""
        response = self._call(
            uid,
            lambda s: s.users().watch(
                userId="me",
                body={"topicName": topic, "labelIds": ["INBOX"], "labelFilterBehavior": "include"},
            ),
        )
        expires = datetime.fromtimestamp(int(response["expiration"]) / 1000, UTC)
        return str(response["historyId"]), expires

    def stop(self, uid: str) -> None:
        """``users.stop``: no more notifications for this mailbox."""
        self._call(uid, lambda s: s.users().stop(userId="me"))
