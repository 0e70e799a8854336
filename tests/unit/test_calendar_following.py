"""Which calendars are followed: ``WatchService.follow_calendars`` and maintenance's hourly
re-reading of calendar lists (tick, claim, worker), over in-memory fakes of our ports."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from shared.ports.sync import CursorState, SourceKind, SyncKey
from shared.ports.watches import ChannelRequest, WatchGrant
from shared.scopes import Feature
from shared.services.maintenance import MaintenanceService, decode_sources
from shared.services.watches import WatchService
from shared.settings import Settings
from tests.functions.fakes import Journal, MemoryChannels
from tests.unit.test_maintenance import Cursors, Queue


class Google:
    """The calendar source and the calendar list: what Google holds for each user."""

    def __init__(self) -> None:
        self.lists: dict[str, list[str] | Exception] = {}
        self.stopped: list[str] = []
        self.failing: set[str] = set()
        self.reads = 0

    def followed_calendars(self, uid: str) -> list[str]:
        self.reads += 1
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


class Quiet:
    """A sync runner whose reconciles find nothing."""

    def reconcile(self, key: SyncKey, delivery: str | None = None) -> int | None:
        return 0


def _service() -> tuple[WatchService, MemoryChannels, Cursors, Google]:
    channels, cursors, google = MemoryChannels(Journal()), Cursors(), Google()
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


def _maintenance_when_lists_are_due(
    service: WatchService, cursors: Cursors, hours: int = 24
) -> int:
    """Tick and work as the scheduler and the workers would, ``hours`` (and a minute) from
    now (by default when every calendar source is due for its daily list re-read). The
    number of work batches."""
    work = Queue()
    maintenance = MaintenanceService(
        lambda: service,
        cursors,
        cursors,
        work,
        Queue(),
        lambda kind: Quiet(),
        lambda uid: True,
        _no_prune,
    )
    now = datetime.now(UTC) + timedelta(hours=hours, minutes=1)
    maintenance.tick(now, f"cycle-{hours}")
    batches = 0
    while work.bodies:
        body = work.bodies.pop(0)
        keys = decode_sources(body["sources"])
        assert keys is not None
        maintenance.work(keys, body["cycle"], now, f"delivery-{batches}")
        batches += 1
    return batches


def _no_prune(now: datetime, limit: int) -> int:
    return 0


def _followed(channels: MemoryChannels, cursors: Cursors, uid: str) -> set[str]:
    on_channels = {c.calendar_id for c in channels.of_user(uid)}
    assert on_channels == cursors.calendars_of(uid)
    return on_channels


def test_follows_exactly_the_list_and_the_tick_picks_up_changes() -> None:
    service, channels, cursors, google = _service()
    google.lists["u1"] = ["primary", "team@group.calendar.google.com"]
    assert service.follow_calendars("u1") == {"calendars_started": 2, "calendars_stopped": 0}
    assert _followed(channels, cursors, "u1") == {"primary", "team@group.calendar.google.com"}
    google.lists["u1"] = ["primary", "holidays@group.v.calendar.google.com"]
    reads = google.reads
    assert _maintenance_when_lists_are_due(service, cursors) == 1
    assert google.reads == reads + 1  # one list read for the account's two calendars
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
    assert {c.calendar_id for c in channels.of_user("u1")} == {
        "primary",
        "b@group.calendar.google.com",
    }
    failed = cursors.docs[SyncKey("u1", SourceKind.CALENDAR, "a@group.calendar.google.com")]
    assert failed["watch_status"] == "repairing"  # maintenance starts it again
    google.failing = set()
    _maintenance_when_lists_are_due(service, cursors)
    assert _followed(channels, cursors, "u1") == {
        "primary",
        "a@group.calendar.google.com",
        "b@group.calendar.google.com",
    }


def test_an_unreadable_list_still_follows_the_primary_calendar() -> None:
    service, channels, cursors, google = _service()
    google.lists["u1"] = TimeoutError()
    assert service.start_all("u1", [Feature.CALENDAR]) == ["calendar"]
    assert _followed(channels, cursors, "u1") == {"primary"}
    google.lists["u1"] = ["primary", "team@group.calendar.google.com"]
    _maintenance_when_lists_are_due(service, cursors, hours=0)  # the list is re-read at once
    assert _followed(channels, cursors, "u1") == {"primary", "team@group.calendar.google.com"}


def test_a_failed_list_read_is_alerted_and_retried_sooner(
    caplog: pytest.LogCaptureFixture,
) -> None:
    service, channels, cursors, google = _service()
    google.lists["u1"] = ["primary"]
    service.follow_calendars("u1")
    google.lists["u1"] = TimeoutError()
    with caplog.at_level(logging.ERROR):
        _maintenance_when_lists_are_due(service, cursors)
    alerts = [r for r in caplog.records if getattr(r, "alert", None) == "calendar_list_failed"]
    assert len(alerts) == 1
    record = cursors.docs[SyncKey("u1", SourceKind.CALENDAR, "primary")]
    # Retried half an hour after the failed read, not a day later.
    assert record["calendar_list_at"] - datetime.now(UTC) < timedelta(hours=24, minutes=35)
    assert _followed(channels, cursors, "u1") == {"primary"}
