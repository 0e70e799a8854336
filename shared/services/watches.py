"""Starting, renewing and stopping Google push channels and the Gmail watch, and the
scheduled reconcile that syncs accounts whose pushes never came."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from shared.errors import ACCOUNT_NEEDS_USER, AppError
from shared.logs import get_logger
from shared.ports.sync import CursorState, RequestResult, SourceKind, SyncKey
from shared.ports.watches import (
    Channel,
    ChannelRequest,
    ChannelSource,
    ChannelStore,
    CursorRecords,
    MailboxWatch,
    secret_hash,
)
from shared.scopes import Feature
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.services.sync import SyncRunner

log = get_logger(__name__)

PRIMARY_CALENDAR = "primary"


def _needs_user(exc: Exception) -> bool:
    """The account cannot be served until the user acts (re-link, grant a scope)."""
    return isinstance(exc, AppError) and exc.code in ACCOUNT_NEEDS_USER


class WatchService:
    """Owns every channel and watch of every user."""

    def __init__(
        self,
        settings: Settings,
        channels: ChannelStore,
        cursors: CursorRecords,
        gmail: MailboxWatch,
        channel_sources: dict[SourceKind, ChannelSource],
        is_linked: Callable[[str], bool],
    ) -> None:
        self._settings = settings
        self._channels = channels
        self._cursors = cursors
        self._gmail = gmail
        self._sources = channel_sources
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
        address, _ = self._gmail.profile(uid)
        history_id, expires = self._gmail.watch(uid, self._gmail_topic())
        self._channels.route_gmail(address, uid)
        key = SyncKey(uid, SourceKind.GMAIL)
        self._cursors.save_cursor(
            key, CursorState(history_id), datetime.now(UTC), watch_expires_at=expires
        )

    def start_drive(self, uid: str) -> None:
        """A Drive changes channel from the current start page token."""
        self._start_channel(SyncKey(uid, SourceKind.DRIVE))

    def start_calendar(self, uid: str, calendar_id: str) -> None:
        """A channel on one calendar, after a full listing that sets its sync token."""
        self._start_channel(SyncKey(uid, SourceKind.CALENDAR, calendar_id))

    def _start_channel(self, key: SyncKey) -> None:
        now = datetime.now(UTC)
        state = self._sources[key.kind].start_cursor(key, now)
        self._cursors.save_cursor(key, state, now)
        self._open_channel(key, state.cursor)

    def _open_channel(self, key: SyncKey, cursor: str | None) -> Channel:
        secret = secrets.token_urlsafe(32)
        address = (
            self._settings.drive_webhook_url
            if key.kind is SourceKind.DRIVE
            else self._settings.calendar_webhook_url
        )
        request = ChannelRequest(id=str(uuid.uuid4()), token=secret, address=address)
        grant = self._sources[key.kind].watch(key, cursor, request)
        channel = Channel(
            id=request.id,
            uid=key.uid,
            source=key.kind.value,
            resource_id=grant.resource_id,
            secret_hash=secret_hash(secret),
            expires_at=grant.expires_at,
            calendar_id=key.calendar_id,
        )
        self._channels.save(channel)
        return channel

    # Stopping

    def stop_channel(self, channel: Channel) -> None:
        """Stop a channel at Google (best effort) and forget it, so it is rejected after."""
        try:
            self._sources[SourceKind(channel.source)].stop(
                channel.uid, channel.id, channel.resource_id
            )
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
        counts = {
            "renewed": 0,
            "stopped_unlinked": 0,
            "failed": 0,
            "gmail_rewatched": 0,
            "needs_user": 0,
        }
        window = timedelta(hours=self._settings.channel_renew_hours)
        for channel in self._channels.expiring_before(now + window):
            if not self._is_linked(channel.uid):
                self.stop_channel(channel)
                counts["stopped_unlinked"] += 1
                continue
            try:
                key = SyncKey(channel.uid, SourceKind(channel.source), channel.calendar_id)
                cursor = self._cursors.cursor_of(key) or {}
                self._open_channel(key, cursor.get("cursor"))
                self.stop_channel(channel)
                counts["renewed"] += 1
            except Exception as exc:
                if _needs_user(exc):
                    counts["needs_user"] += 1
                    continue
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
                self._cursors.set_watch_expiry(key, new_expiry)
                counts["gmail_rewatched"] += 1
            except Exception as exc:
                if _needs_user(exc):
                    counts["needs_user"] += 1
                    continue
                counts["failed"] += 1
                log.error(
                    "gmail rewatch failed",
                    extra={"alert": "gmail_rewatch_failed", "reason": type(exc).__name__},
                )
        return counts

    def reconcile(self, now: datetime, runners: dict[SourceKind, SyncRunner]) -> dict[str, int]:
        """Sync every source that has not synced for a while or was left dirty."""
        counts = {"synced": 0, "skipped": 0, "failed": 0, "needs_user": 0}
        cutoff = now - timedelta(minutes=self._settings.reconcile_after_minutes)
        for key, _data in self._cursors.needing_reconcile(cutoff):
            if not self._is_linked(key.uid):
                counts["skipped"] += 1
                continue
            try:
                result = runners[key.kind].notify(key)
                counts["synced" if result is RequestResult.RUN else "skipped"] += 1
            except Exception as exc:
                if _needs_user(exc):
                    counts["needs_user"] += 1
                    continue
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
