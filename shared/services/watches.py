"""Starting, renewing and stopping Google push channels and the Gmail watch, and the
scheduled reconcile that syncs accounts whose pushes never came."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.adapters.channel_store import Channel, secret_hash
from shared.errors import AppError
from shared.logs import get_logger
from shared.scopes import Feature
from shared.services.sync import CursorState, RequestResult, SourceKind, SyncKey
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.adapters.channel_store import FirestoreChannelStore
    from shared.adapters.sync_store import FirestoreSyncStore
    from shared.services.sync import SyncRunner
    from shared.sources.calendar import CalendarSource
    from shared.sources.drive import DriveSource
    from shared.sources.gmail import GmailSource

log = get_logger(__name__)

PRIMARY_CALENDAR = "primary"


def _expiration(response: dict[str, Any], default: timedelta) -> datetime:
    millis = response.get("expiration")
    if millis:
        return datetime.fromtimestamp(int(millis) / 1000, UTC)
    return datetime.now(UTC) + default


class WatchService:
    """Owns every channel and watch of every user."""

    def __init__(
        self,
        settings: Settings,
        channels: FirestoreChannelStore,
        cursors: FirestoreSyncStore,
        gmail: GmailSource,
        drive: DriveSource,
        calendar: CalendarSource,
        is_linked: Callable[[str], bool],
    ) -> None:
        self._settings = settings
        self._channels = channels
        self._cursors = cursors
        self._gmail = gmail
        self._drive = drive
        self._calendar = calendar
        self._is_linked = is_linked

    def _gmail_topic(self) -> str:
        settings = self._settings
        return f"projects/{settings.google_cloud_project}/topics/{settings.gmail_topic}"

    # Starting

    def start_all(self, uid: str, features: list[Feature]) -> list[str]:
        """Start a watch for each granted feature; failures are logged as alerts (the
        renewal job starts missing watches again). Returns the failed features."""
        starters: dict[Feature, Callable[[str], None]] = {
            Feature.GMAIL: self.start_gmail,
            Feature.DRIVE: self.start_drive,
            Feature.CALENDAR: lambda user: self.start_calendar(user, PRIMARY_CALENDAR),
        }
        failed = []
        for feature in features:
            try:
                starters[feature](uid)
            except Exception as exc:
                failed.append(feature.value)
                log.error(
                    "watch start failed",
                    extra={
                        "alert": "watch_start_failed",
                        "feature": feature.value,
                        "reason": type(exc).__name__,
                    },
                )
        return failed

    def start_gmail(self, uid: str) -> None:
        """``users.watch`` on INBOX; its historyId is the starting cursor."""
        address, _ = self._gmail.current_history_id(uid)
        topic = (
            f"projects/{self._settings.google_cloud_project}/topics/{self._settings.gmail_topic}"
        )
        history_id, expires = self._gmail.watch(uid, topic)
        self._channels.route_gmail(address, uid)
        key = SyncKey(uid, SourceKind.GMAIL)
        self._cursors.save_cursor(
            key, CursorState(history_id), datetime.now(UTC), watch_expires_at=expires
        )

    def start_drive(self, uid: str) -> None:
        """A Drive changes channel from the current start page token."""
        token = self._drive.start_page_token(uid)
        self._cursors.save_cursor(
            SyncKey(uid, SourceKind.DRIVE), CursorState(token), datetime.now(UTC)
        )
        self._open_channel(uid, SourceKind.DRIVE, "", token)

    def start_calendar(self, uid: str, calendar_id: str) -> None:
        """A channel on one calendar, after a full listing that sets its sync token."""
        key = SyncKey(uid, SourceKind.CALENDAR, calendar_id)
        self._cursors.save_cursor(
            key, self._calendar.initial(key, datetime.now(UTC)), datetime.now(UTC)
        )
        self._open_channel(uid, SourceKind.CALENDAR, calendar_id, None)

    def _open_channel(
        self, uid: str, kind: SourceKind, calendar_id: str, page_token: str | None
    ) -> Channel:
        channel_id = str(uuid.uuid4())
        secret = secrets.token_urlsafe(32)
        body = {"id": channel_id, "type": "web_hook", "token": secret}
        if kind is SourceKind.DRIVE:
            body["address"] = self._settings.drive_webhook_url
            response = (
                self._drive.service(uid)
                .changes()
                .watch(
                    pageToken=page_token,
                    supportsAllDrives=True,
                    includeItemsFromAllDrives=True,
                    body=body,
                )
                .execute()
            )
            lifetime = timedelta(days=1)
        else:
            body["address"] = self._settings.calendar_webhook_url
            response = (
                self._calendar.service(uid)
                .events()
                .watch(calendarId=calendar_id, body=body)
                .execute()
            )
            lifetime = timedelta(days=7)
        channel = Channel(
            id=channel_id,
            uid=uid,
            source=kind.value,
            resource_id=str(response["resourceId"]),
            secret_hash=secret_hash(secret),
            expires_at=_expiration(response, lifetime),
            calendar_id=calendar_id,
        )
        self._channels.save(channel)
        return channel

    # Stopping

    def stop_channel(self, channel: Channel) -> None:
        """Stop a channel at Google (best effort) and forget it, so it is rejected after."""
        try:
            source = self._drive if channel.source == SourceKind.DRIVE.value else self._calendar
            source.service(channel.uid).channels().stop(
                body={"id": channel.id, "resourceId": channel.resource_id}
            ).execute()
        except Exception as exc:
            log.warning(
                "channel stop failed",
                extra={"source": channel.source, "reason": type(exc).__name__},
            )
        self._channels.delete(channel.id)

    def stop_all(self, uid: str) -> None:
        """Stop every channel and the Gmail watch of a user (unlink, erase, invalid_grant)."""
        for channel in self._channels.of_user(uid):
            self.stop_channel(channel)
        try:
            self._gmail.stop(uid)
        except AppError:
            pass  # not linked for Gmail, or the grant is already dead: nothing to stop
        except Exception as exc:
            log.warning("gmail stop failed", extra={"reason": type(exc).__name__})

    # Renewal and reconcile

    def renew_due(self, now: datetime) -> dict[str, int]:
        """Replace channels near expiry (new one saved first) and re-watch Gmail daily."""
        counts = {"renewed": 0, "stopped_unlinked": 0, "failed": 0, "gmail_rewatched": 0}
        window = timedelta(hours=self._settings.channel_renew_hours)
        for channel in self._channels.expiring_before(now + window):
            if not self._is_linked(channel.uid):
                self.stop_channel(channel)
                counts["stopped_unlinked"] += 1
                continue
            try:
                kind = SourceKind(channel.source)
                key = SyncKey(channel.uid, kind, channel.calendar_id)
                cursor = self._cursors.cursor_ref(key).get().to_dict() or {}
                self._open_channel(channel.uid, kind, channel.calendar_id, cursor.get("cursor"))
                self.stop_channel(channel)
                counts["renewed"] += 1
            except Exception as exc:
                counts["failed"] += 1
                log.error(
                    "channel renewal failed",
                    extra={
                        "alert": "channel_renewal_failed",
                        "source": channel.source,
                        "reason": type(exc).__name__,
                    },
                )
        for key, data in self._cursors.of_kind(SourceKind.GMAIL):
            expires = data.get("watch_expires_at")
            if expires and expires - now > timedelta(days=6):
                continue  # watched within the last day
            if not self._is_linked(key.uid):
                continue
            try:
                _, new_expiry = self._gmail.watch(key.uid, self._gmail_topic())
                self._cursors.cursor_ref(key).update({"watch_expires_at": new_expiry})
                counts["gmail_rewatched"] += 1
            except Exception as exc:
                counts["failed"] += 1
                log.error(
                    "gmail rewatch failed",
                    extra={"alert": "gmail_rewatch_failed", "reason": type(exc).__name__},
                )
        return counts

    def reconcile(self, now: datetime, runners: dict[SourceKind, SyncRunner]) -> dict[str, int]:
        """Sync every source that has not synced for a while or was left dirty."""
        counts = {"synced": 0, "skipped": 0, "failed": 0}
        cutoff = now - timedelta(minutes=self._settings.reconcile_after_minutes)
        for key, _data in self._cursors.needing_reconcile(cutoff):
            if not self._is_linked(key.uid):
                counts["skipped"] += 1
                continue
            try:
                result = runners[key.kind].notify(key)
                counts["synced" if result is RequestResult.RUN else "skipped"] += 1
            except Exception as exc:
                counts["failed"] += 1
                log.error(
                    "reconcile sync failed",
                    extra={
                        "alert": "reconcile_failed",
                        "source": key.kind.value,
                        "reason": type(exc).__name__,
                    },
                )
        return counts
