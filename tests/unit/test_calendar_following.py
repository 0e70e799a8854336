"""Which calendars are followed: ``WatchService.follow_calendars`` and the renewal tick's
re-reading of calendar lists, over in-memory fakes of our ports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.ports.sync import CursorState, SourceKind, SyncKey
from shared.ports.watches import Channel, ChannelRequest, WatchGrant
from shared.scopes import Feature
from shared.services.watches import WatchService
from shared.settings import Settings


class Channels:
    def __init__(self) -> None:
        self.saved: dict[str, Channel] = {}

    def save(self, channel: Channel) -> None:
        self.saved[channel.id] = channel

    def get(self, channel_id: str) -> Channel | None:
        return self.saved.get(channel_id)

    def delete(self, channel_id: str) -> None:
        self.saved.pop(channel_id, None)

    def of_user(self, uid: str) -> list[Channel]:
        return [c for c in self.saved.values() if c.uid == uid]

    def expiring_before(self, moment: datetime) -> list[Channel]:
        return []

    def route_gmail(self, address: str, uid: str) -> None: ...

    def gmail_owner(self, address: str) -> str | None:
        return None


class Cursors:
    def __init__(self) -> None:
        self.saved: dict[SyncKey, CursorState] = {}

    def save_cursor(self, key: SyncKey, cursor: CursorState, now: datetime, **extra: Any) -> None:
        self.saved[key] = cursor

    def cursor_of(self, key: SyncKey) -> dict[str, Any] | None:
        return {"cursor": self.saved[key].cursor} if key in self.saved else None

    def set_watch_expiry(self, key: SyncKey, expires_at: datetime) -> None: ...

    def of_kind(self, kind: SourceKind) -> Iterator[tuple[SyncKey, dict[str, Any]]]:
        return iter([(key, {}) for key in self.saved if key.kind is kind])

    def needing_reconcile(self, cutoff: datetime) -> Iterator[tuple[SyncKey, dict[str, Any]]]:
        return iter([])

    def calendars_of(self, uid: str) -> set[str]:
        return {k.calendar_id for k in self.saved if k.uid == uid and k.kind is SourceKind.CALENDAR}

    def forget(self, key: SyncKey) -> None:
        self.saved.pop(key, None)


class Google:
    """The calendar source and the calendar list: what Google holds for each user."""

    def __init__(self) -> None:
        self.lists: dict[str, list[str] | Exception] = {}
        self.stopped: list[str] = []
        self.failing: set[str] = set()

    def followed_calendars(self, uid: str) -> list[str]:
        found = self.lists[uid]
        if isinstance(found, Exception):
            raise found
        return found

    def start_cursor(self, key: SyncKey, now: datetime) -> CursorState:
        if key.calendar_id in self.failing:
            raise TimeoutError
        return CursorState(f"token-{key.calendar_id}")

    def watch(self, key: SyncKey, cursor: str | None, request: ChannelRequest) -> WatchGrant:
        return WatchGrant(f"res-{key.calendar_id}", datetime.now(UTC) + timedelta(days=7))

    def stop(self, uid: str, channel_id: str, resource_id: str) -> None:
        self.stopped.append(resource_id)


class NoMailbox:
    def profile(self, uid: str) -> tuple[str, str]:
        raise AssertionError

    def watch(self, uid: str, topic: str) -> tuple[str, datetime]:
        raise AssertionError

    def stop(self, uid: str) -> None: ...


def _service() -> tuple[WatchService, Channels, Cursors, Google]:
    channels, cursors, google = Channels(), Cursors(), Google()
    service = WatchService(
        Settings(),
        channels,
        cursors,
        NoMailbox(),
        {SourceKind.CALENDAR: google},
        is_linked=lambda uid: True,
        calendar_list=google,
    )
    return service, channels, cursors, google


def _followed(channels: Channels, cursors: Cursors, uid: str) -> set[str]:
    on_channels = {c.calendar_id for c in channels.of_user(uid)}
    assert on_channels == cursors.calendars_of(uid)
    return on_channels


def test_follows_exactly_the_list_and_the_tick_picks_up_changes() -> None:
    service, channels, cursors, google = _service()
    google.lists["u1"] = ["primary", "team@group.calendar.google.com"]
    assert service.follow_calendars("u1") == {"calendars_started": 2, "calendars_stopped": 0}
    assert _followed(channels, cursors, "u1") == {"primary", "team@group.calendar.google.com"}
    google.lists["u1"] = ["primary", "holidays@group.v.calendar.google.com"]
    counts = service.refresh_calendar_lists()
    assert counts == {"calendars_started": 1, "calendars_stopped": 1, "calendar_lists_failed": 0}
    assert _followed(channels, cursors, "u1") == {
        "primary",
        "holidays@group.v.calendar.google.com",
    }
    assert google.stopped == ["res-team@group.calendar.google.com"]


def test_one_calendar_failing_does_not_stop_the_others() -> None:
    service, channels, cursors, google = _service()
    google.lists["u1"] = ["primary", "a@group.calendar.google.com", "b@group.calendar.google.com"]
    google.failing = {"a@group.calendar.google.com"}
    with pytest.raises(TimeoutError):
        service.follow_calendars("u1")
    assert _followed(channels, cursors, "u1") == {"primary", "b@group.calendar.google.com"}
    google.failing = set()
    assert service.refresh_calendar_lists()["calendars_started"] == 1


def test_an_unreadable_list_still_follows_the_primary_calendar() -> None:
    service, channels, cursors, google = _service()
    google.lists["u1"] = TimeoutError()
    assert service.start_all("u1", [Feature.CALENDAR]) == ["calendar"]
    assert _followed(channels, cursors, "u1") == {"primary"}
    google.lists["u1"] = ["primary", "team@group.calendar.google.com"]
    assert service.refresh_calendar_lists()["calendars_started"] == 1
