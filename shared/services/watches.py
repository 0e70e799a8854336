"""Starting, renewing, repairing and stopping Google push channels and the Gmail watch.

Each source's watch state lives on its cursor document (``shared/services/upkeep.py``):
a start that fails is recorded as ``repairing`` and due at once, so the next maintenance
tick repairs it; ``shared/services/maintenance.py`` decides what is due and calls the
``renew`` and ``repair`` primitives here."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from shared.errors import ACCOUNT_NEEDS_USER, AppError
from shared.logs import get_logger
from shared.ports.sync import CursorState, SourceKind, SyncKey
from shared.ports.watches import (
    CalendarListReader,
    Channel,
    ChannelRequest,
    ChannelSource,
    ChannelStore,
    CursorRecords,
    MailboxWatch,
    secret_hash,
)
from shared.scopes import Feature
from shared.services.upkeep import UpkeepPolicy, WatchStatus
from shared.settings import Settings

log = get_logger(__name__)

PRIMARY_CALENDAR = "primary"


def needs_user(exc: Exception) -> bool:
    """The account cannot be served until the user acts (re-link, grant a scope)."""
    return isinstance(exc, AppError) and exc.code in ACCOUNT_NEEDS_USER


FEATURE_SOURCES = {
    Feature.GMAIL: SourceKind.GMAIL,
    Feature.DRIVE: SourceKind.DRIVE,
    Feature.CALENDAR: SourceKind.CALENDAR,
}


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
        calendar_list: CalendarListReader,
        policy: UpkeepPolicy | None = None,
    ) -> None:
        self._calendar_list = calendar_list
        self._settings = settings
        self.policy = policy or UpkeepPolicy()
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
        """Start a watch for each granted feature (Calendar: every calendar of the user's
        list, ``follow_calendars``). A failure is logged and recorded as a watch in repair,
        due now: the next maintenance tick starts it again (with backoff after that) and,
        for Calendar, re-reads the calendar list. Returns the failed features."""
        keys = {
            Feature.GMAIL: SyncKey(uid, SourceKind.GMAIL),
            Feature.DRIVE: SyncKey(uid, SourceKind.DRIVE),
            Feature.CALENDAR: SyncKey(uid, SourceKind.CALENDAR, PRIMARY_CALENDAR),
        }
        failed = []
        for feature in features:
            key = keys[feature]
            try:
                if feature is Feature.CALENDAR:
                    self.follow_calendars(uid)
                else:
                    self.start(key)
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
                if feature is Feature.CALENDAR:
                    self._reread_calendar_list_soon(uid, datetime.now(UTC))
                else:
                    self.record_start_failure(key, datetime.now(UTC))
        return failed

    def _reread_calendar_list_soon(self, uid: str, now: datetime) -> None:
        """After a failed ``follow_calendars`` at link time (calendars that failed to start
        are already in repair): the next tick re-reads the list, on the primary calendar's
        record (made, in repair, when even that one is missing)."""
        primary = SyncKey(uid, SourceKind.CALENDAR, PRIMARY_CALENDAR)
        if self._cursors.cursor_of(primary) is None:
            self.record_start_failure(primary, now)
        else:
            self._cursors.set_upkeep(primary, {"calendar_list_at": now, "due_at": now})

    def start(self, key: SyncKey) -> None:
        """Start the source's watch from its current state (nothing before is reported)."""
        if key.kind is SourceKind.GMAIL:
            self.start_gmail(key.uid)
        else:
            self._start_channel(key)

    def start_gmail(self, uid: str) -> None:
        """``users.watch`` on INBOX; its historyId is the starting cursor."""
        address, _ = self._gmail.profile(uid)
        history_id, expires = self._gmail.watch(uid, self._gmail_topic())
        self._channels.route_gmail(address, uid)
        key = SyncKey(uid, SourceKind.GMAIL)
        now = datetime.now(UTC)
        upkeep = self.healthy(key, {}, now, watch_expires_at=expires)
        self._cursors.save_cursor(key, CursorState(history_id), now, **upkeep)

    def start_drive(self, uid: str) -> None:
        """A Drive changes channel from the current start page token."""
        self._start_channel(SyncKey(uid, SourceKind.DRIVE))

    def start_calendar(self, uid: str, calendar_id: str) -> None:
        """A channel on one calendar, after a full listing that sets its sync token."""
        self._start_channel(SyncKey(uid, SourceKind.CALENDAR, calendar_id))

    def stop_calendar(self, uid: str, calendar_id: str) -> None:
        """Stop following one calendar: its channels, its cursor and its event records."""
        for channel in self._channels.of_user(uid):
            if channel.source == SourceKind.CALENDAR.value and channel.calendar_id == calendar_id:
                self.stop_channel(channel)
        self._cursors.forget(SyncKey(uid, SourceKind.CALENDAR, calendar_id))

    def follow_calendars(self, uid: str) -> dict[str, int]:
        """Follow exactly the calendars of the user's list that they can read and selected:
        start the new ones, stop the removed or unticked ones. One calendar failing to start
        does not stop the others (the next refresh tries it again); the first failure is
        raised after the others were tried."""
        followed = self._cursors.calendars_of(uid)
        try:
            wanted = set(self._calendar_list.followed_calendars(uid))
        except Exception as exc:
            # Follow the primary calendar anyway: maintenance re-reads the list of every
            # user who follows a calendar (``calendar_list_at``), so the others come later.
            if PRIMARY_CALENDAR not in followed and not needs_user(exc):
                self._start_or_repair_later(uid, PRIMARY_CALENDAR)
            raise
        counts = {"calendars_started": 0, "calendars_stopped": 0}
        failure: Exception | None = None
        for calendar_id in sorted(wanted - followed):
            try:
                self._start_or_repair_later(uid, calendar_id)
                counts["calendars_started"] += 1
            except Exception as exc:
                failure = failure or exc
        for calendar_id in sorted(followed - wanted):
            self.stop_calendar(uid, calendar_id)
            counts["calendars_stopped"] += 1
        if failure is not None:
            raise failure
        return counts

    def _start_or_repair_later(self, uid: str, calendar_id: str) -> None:
        """Start following one calendar; when that fails it is recorded in repair (so
        maintenance starts it again, with backoff) and the failure is raised."""
        try:
            self.start_calendar(uid, calendar_id)
        except Exception as exc:
            if not needs_user(exc):
                self.record_start_failure(
                    SyncKey(uid, SourceKind.CALENDAR, calendar_id), datetime.now(UTC)
                )
            raise

    def _start_channel(self, key: SyncKey) -> None:
        now = datetime.now(UTC)
        state = self._sources[key.kind].start_cursor(key, now)
        self._cursors.save_cursor(key, state, now)
        channel = self._open_channel(key, state.cursor)
        self._cursors.set_upkeep(key, self.healthy(key, {}, now, **_channel_fields(channel)))

    # Watch state on the cursor document

    def healthy(
        self, key: SyncKey, record: dict[str, Any], now: datetime, **watch: Any
    ) -> dict[str, Any]:
        """Upkeep fields of a source whose watch just started or was repaired; the first
        reconcile comes after ``reconcile_min`` (it catches up what the gap missed)."""
        fields: dict[str, Any] = {
            **watch,
            "watch_status": WatchStatus.ACTIVE.value,
            "watch_failures": 0,
            "watch_started_at": now,
            "repair_at": None,
        }
        if key.kind is SourceKind.CALENDAR and record.get("calendar_list_at") is None:
            fields["calendar_list_at"] = now + self.policy.calendar_list_every
        if record.get("reconcile_at") is None:
            fields["reconcile_at"] = now + self.policy.reconcile_min
            fields["reconcile_every_s"] = int(self.policy.reconcile_min.total_seconds())
        fields["due_at"] = self.policy.due_at(key.kind, {**record, **fields})
        return fields

    def record_start_failure(self, key: SyncKey, now: datetime) -> None:
        """A watch that did not start: in repair, due at once."""
        fields: dict[str, Any] = {
            "watch_status": WatchStatus.REPAIRING.value,
            "watch_failures": 0,
            "repair_at": now,
            "reconcile_at": None,
            "due_at": now,
        }
        self._cursors.set_upkeep(key, fields, create=True)

    def health(self, uid: str, features: list[Feature]) -> list[dict[str, Any]]:
        """Per granted feature: the watch status (the worst of its sources; ``failed``
        when no record exists, since nothing would repair it), with the latest
        notification and sync times."""
        records = self._cursors.of_user(uid)
        order = [WatchStatus.ACTIVE, WatchStatus.REPAIRING, WatchStatus.FAILED]
        views = []
        for feature in features:
            mine = [data for key, data in records if key.kind is FEATURE_SOURCES[feature]]
            statuses = [WatchStatus(data.get("watch_status") or "active") for data in mine]
            status = max(statuses, key=order.index) if statuses else WatchStatus.FAILED
            views.append(
                {
                    "feature": feature.value,
                    "status": status.value,
                    "last_notification_at": _latest(mine, "last_notified_at"),
                    "last_sync_at": _latest(mine, "last_synced_at"),
                }
            )
        return views

    # Renewal and repair (called by maintenance for one due source)

    def renew(self, key: SyncKey, record: dict[str, Any], now: datetime) -> dict[str, Any]:
        """Replace the source's watch before it expires; the new upkeep fields.

        Gmail: ``users.watch`` again (same topic; the cursor stays). Channels: a new
        channel from the stored cursor is saved before the old one is stopped.
        """
        if key.kind is SourceKind.GMAIL:
            _, expires = self._gmail.watch(key.uid, self._gmail_topic())
            return self.healthy(key, record, now, watch_expires_at=expires)
        channel = self._open_channel(key, record.get("cursor"))
        self._stop_channel_id(record.get("channel_id"))
        return self.healthy(key, record, now, **_channel_fields(channel))

    def repair(self, key: SyncKey, record: dict[str, Any], now: datetime) -> dict[str, Any]:
        """Start a missing or failed watch again; the new upkeep fields.

        A source that never got a cursor starts from now. One that has a cursor keeps it
        (the reconcile that follows picks up what happened while nothing was watching).
        """
        if record.get("cursor") is None:
            self.start(key)
            return {}  # start() wrote the whole record
        if key.kind is SourceKind.GMAIL:
            address, _ = self._gmail.profile(key.uid)
            _, expires = self._gmail.watch(key.uid, self._gmail_topic())
            self._channels.route_gmail(address, key.uid)
            return self.healthy(key, record, now, watch_expires_at=expires)
        return self.renew(key, record, now)

    def repair_failed(
        self, key: SyncKey, record: dict[str, Any], now: datetime, exc: Exception
    ) -> dict[str, Any]:
        """Upkeep fields after a failed renewal or repair: backoff, then alert."""
        failures = int(record.get("watch_failures") or 0) + 1
        failed = failures >= self.policy.alert_after
        fields: dict[str, Any] = {
            "watch_status": (WatchStatus.FAILED if failed else WatchStatus.REPAIRING).value,
            "watch_failures": failures,
            "repair_at": now + self.policy.repair_delay(failures),
        }
        if failed:
            log.error(
                "watch repair failed",
                extra={
                    "alert": "watch_repair_failed",
                    "source": key.kind.value,
                    "failures": failures,
                    "reason": type(exc).__name__,
                },
            )
        else:
            log.warning(
                "watch repair will be retried",
                extra={"source": key.kind.value, "failures": failures},
            )
        fields["due_at"] = self.policy.due_at(key.kind, {**record, **fields})
        return fields

    def stop_source(self, key: SyncKey, record: dict[str, Any]) -> None:
        """Stop the source's channel (an account no longer linked)."""
        self._stop_channel_id(record.get("channel_id"))

    def _stop_channel_id(self, channel_id: object) -> None:
        if not isinstance(channel_id, str) or not channel_id:
            return
        channel = self._channels.get(channel_id)
        if channel is not None:
            self.stop_channel(channel)

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


def _channel_fields(channel: Channel) -> dict[str, Any]:
    return {"channel_id": channel.id, "channel_expires_at": channel.expires_at}


def _latest(records: list[dict[str, Any]], field: str) -> datetime | None:
    times = [data[field] for data in records if data.get(field) is not None]
    return max(times) if times else None
