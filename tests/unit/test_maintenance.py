"""Fleet maintenance with fakes of our own ports: the upkeep policy (adaptive reconcile,
repair backoff, the Google-call budget of an idle account), the claiming tick and the
bounded, idempotent work batches."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.bootstrap import Container
from shared.ports.maintenance import DueSource
from shared.ports.sync import CursorState, SourceKind, SyncKey
from shared.ports.watches import ChannelRequest, WatchGrant
from shared.services import maintenance
from shared.services.maintenance import MaintenanceService, decode_sources, work_messages
from shared.services.upkeep import UpkeepPolicy, WatchStatus
from shared.services.watches import WatchService
from shared.settings import Settings
from tests.functions.fakes import Journal, MemoryChannels, Unreachable

# Near the real clock: starting a watch stamps it with the current time.
NOW = datetime.now(UTC).replace(microsecond=0)
POLICY = UpkeepPolicy()


class Cursors:
    """Cursor documents in memory (``CursorRecords`` and ``DueIndex``)."""

    def __init__(self) -> None:
        self.docs: dict[SyncKey, dict[str, Any]] = {}
        self.versions: dict[SyncKey, int] = {}

    def _touch(self, key: SyncKey) -> None:
        self.versions[key] = self.versions.get(key, 0) + 1

    def save_cursor(self, key: SyncKey, cursor: CursorState, now: datetime, **extra: Any) -> None:
        self.docs[key] = {"cursor": cursor.cursor, "last_synced_at": now, **extra}
        self._touch(key)

    def cursor_of(self, key: SyncKey) -> dict[str, Any] | None:
        return dict(self.docs[key]) if key in self.docs else None

    def set_watch_expiry(self, key: SyncKey, expires_at: datetime) -> None:
        self.set_upkeep(key, {"watch_expires_at": expires_at})

    def set_upkeep(self, key: SyncKey, fields: dict[str, Any], create: bool = False) -> bool:
        if key not in self.docs and not create:
            return False
        self.docs.setdefault(key, {"cursor": None}).update(fields)
        self._touch(key)
        return True

    def of_user(self, uid: str) -> list[tuple[SyncKey, dict[str, Any]]]:
        return [(key, dict(data)) for key, data in self.docs.items() if key.uid == uid]

    def calendars_of(self, uid: str) -> set[str]:
        return {k.calendar_id for k in self.docs if k.uid == uid and k.kind is SourceKind.CALENDAR}

    def forget(self, key: SyncKey) -> None:
        self.docs.pop(key, None)
        self.versions.pop(key, None)

    # DueIndex

    def due(self, now: datetime, limit: int, after: DueSource | None) -> list[DueSource]:
        ordered = sorted(
            (data["due_at"], key.uid, key.kind.value, key)
            for key, data in self.docs.items()
            if data.get("due_at") is not None and data["due_at"] <= now
        )
        if after is not None:
            ordered = [row for row in ordered if row[:3] > after.token[0][:3]]
        return [DueSource(row[3], (row, self.versions[row[3]])) for row in ordered[:limit]]

    def claim(self, items: list[DueSource], cycle: str, until: datetime) -> list[SyncKey]:
        won = []
        for item in items:
            if self.versions[item.key] == item.token[1]:
                self.set_upkeep(item.key, {"due_at": until, "claim": cycle})
                won.append(item.key)
        return won


class Queue:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def publish(self, bodies: list[dict[str, Any]]) -> None:
        self.bodies += bodies


class Google:
    """The Gmail watch and channel sources, with a call log and queued failures."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail: dict[str, int] = {}
        self.now = NOW  # the fake's clock: watches last 7 days (Drive 1 day) from it
        self.calendars = ["primary"]  # the user's calendar list

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.fail.get(name):
            self.fail[name] -= 1
            raise ConnectionError(name)

    def profile(self, uid: str) -> tuple[str, str]:
        self._call("gmail.profile")
        return f"{uid}@example.com", "100"

    def watch(self, *args: Any) -> Any:
        if len(args) == 2:  # Gmail users.watch(uid, topic)
            self._call("gmail.watch")
            return "100", self.now + timedelta(days=7)
        key, _cursor, request = args
        self._call(f"{key.kind.value}.watch")
        assert isinstance(request, ChannelRequest)
        return WatchGrant("resource", self.now + timedelta(days=7))

    def stop(self, *args: Any) -> None:
        self._call("stop")

    def start_cursor(self, key: SyncKey, now: datetime) -> CursorState:
        self._call(f"{key.kind.value}.start")
        return CursorState("1")

    def followed_calendars(self, uid: str) -> list[str]:
        self._call("calendarList.list")
        return list(self.calendars)


class Runner:
    def __init__(self, google: Google, found: int = 0) -> None:
        self.google = google
        self.found = found

    def reconcile(self, key: SyncKey, delivery: str | None = None) -> int | None:
        self.google.calls.append(f"{key.kind.value}.list")
        return self.found


class World:
    def __init__(self, linked: bool = True) -> None:
        self.cursors = Cursors()
        self.google = Google()
        self.channels = MemoryChannels(Journal())
        self.work, self.ticks = Queue(), Queue()
        self.runner = Runner(self.google)
        self.linked = linked
        settings = Settings(calendar_webhook_url="https://x/c", drive_webhook_url="https://x/d")
        self.watches = WatchService(
            settings,
            self.channels,
            self.cursors,
            self.google,
            {SourceKind.DRIVE: self.google, SourceKind.CALENDAR: self.google},
            is_linked=lambda uid: self.linked,
            calendar_list=self.google,
            policy=POLICY,
        )
        self.pruned: list[int] = []
        self.service = MaintenanceService(
            lambda: self.watches,
            self.cursors,
            self.cursors,
            self.work,
            self.ticks,
            lambda kind: self.runner,
            lambda uid: self.linked,
            self._prune,
        )

    def _prune(self, now: datetime, limit: int) -> int:
        self.pruned.append(limit)
        return limit if len(self.pruned) < 3 else 7

    def run_cycle(self, now: datetime, cycle: str = "c1") -> None:
        self.google.now = now
        self.service.tick(now, cycle)
        while self.work.bodies:
            body = self.work.bodies.pop(0)
            keys = decode_sources(body["sources"])
            assert keys is not None
            self.service.work(keys, body["cycle"], now, "delivery")


FEATURE_KEYS = [
    SyncKey("u1", SourceKind.GMAIL),
    SyncKey("u1", SourceKind.DRIVE),
    SyncKey("u1", SourceKind.CALENDAR, "primary"),
]


def test_policy_reconciles_healthy_sources_rarely_and_silent_ones_more_often() -> None:
    active = {"watch_status": "active", "reconcile_every_s": 3600}
    assert POLICY.next_reconcile(active, NOW, None) == (
        NOW + POLICY.reconcile_max,
        POLICY.reconcile_max,
    )
    assert POLICY.next_reconcile(active, NOW, 0)[1] == timedelta(hours=2)  # silent: doubles
    assert POLICY.next_reconcile(active, NOW, 3)[1] == POLICY.reconcile_min  # a dropped push
    repairing = {**active, "watch_status": "repairing"}
    assert POLICY.next_reconcile(repairing, NOW, 0)[1] == POLICY.reconcile_min
    long = {**active, "reconcile_every_s": 8 * 3600}
    assert POLICY.next_reconcile(long, NOW, 0)[1] == POLICY.reconcile_max  # capped


def test_repair_backoff_doubles_up_to_its_cap() -> None:
    delays = [POLICY.repair_delay(n) for n in range(1, 10)]
    assert delays[:3] == [timedelta(minutes=5), timedelta(minutes=10), timedelta(minutes=20)]
    assert delays[-1] == POLICY.repair_max and delays == sorted(delays)


def test_an_idle_account_costs_at_most_12_google_calls_a_day_calendar_list_included() -> None:
    world = World()
    world.watches.start_all("u1", [f for f in _features()])
    start = NOW
    world.google.calls.clear()
    # Warm-up week (the interval grows to its maximum), then count one steady day.
    moment = start
    while moment < start + timedelta(days=8):
        world.run_cycle(moment, cycle=moment.isoformat())
        moment += timedelta(minutes=5)
        if moment == start + timedelta(days=7):
            world.google.calls.clear()
    assert len(world.google.calls) <= 12, world.google.calls
    # The calendar list is re-read daily (calendars added or removed are followed).
    assert world.google.calls.count("calendarList.list") == 1


def _features() -> list[Any]:
    from shared.scopes import Feature

    return [Feature.GMAIL, Feature.DRIVE, Feature.CALENDAR]


def test_a_watch_that_failed_at_link_time_is_repaired_by_the_next_cycle() -> None:
    world = World()
    world.google.fail = {"gmail.watch": 1, "drive.watch": 1, "calendar.watch": 1}
    failed = world.watches.start_all("u1", _features())
    assert sorted(failed) == ["calendar", "drive", "gmail"]
    health = {h["feature"]: h["status"] for h in world.watches.health("u1", _features())}
    assert set(health.values()) == {"repairing"}
    world.run_cycle(datetime.now(UTC))
    health = {h["feature"]: h["status"] for h in world.watches.health("u1", _features())}
    assert set(health.values()) == {"active"}
    assert world.google.calls.count("gmail.watch") == 2  # one failed at link, one repair
    assert len(world.channels.channels) == 2


def test_repeated_repair_failures_back_off_then_alert(caplog: pytest.LogCaptureFixture) -> None:
    world = World()
    world.google.fail = {"gmail.watch": 100}
    world.watches.start_all("u1", _features()[:1])
    key = FEATURE_KEYS[0]
    moment = datetime.now(UTC)
    attempts = []
    with caplog.at_level(logging.ERROR):
        for _ in range(4):
            world.run_cycle(moment, cycle=moment.isoformat())
            doc = world.cursors.docs[key]
            attempts.append(doc["watch_failures"])
            moment = doc["due_at"]
    assert attempts == [1, 2, 3, 4]
    assert world.cursors.docs[key]["watch_status"] == WatchStatus.FAILED
    alerts = [r for r in caplog.records if getattr(r, "alert", None) == "watch_repair_failed"]
    assert len(alerts) == 2  # from the third failed repair on


def test_two_ticks_at_once_claim_each_source_once() -> None:
    world = World()
    for n in range(70):
        world.cursors.set_upkeep(
            SyncKey(f"u{n:03}", SourceKind.GMAIL), {"due_at": NOW, "cursor": "1"}, create=True
        )
    first, second = MaintenanceService.tick, MaintenanceService.tick
    # Both ticks read the same page before either claims: interleave by reading first.
    page = world.cursors.due(NOW, 500, None)
    world.service.tick(NOW, "a")
    claimed_by_b = world.cursors.claim(page, "b", NOW + timedelta(minutes=20))
    assert claimed_by_b == [] and first is second
    published = [tuple(s) for body in world.work.bodies for s in body["sources"]]
    assert len(published) == 70 == len(set(published))
    assert all(len(body["sources"]) <= maintenance.WORK_BATCH for body in world.work.bodies)


def test_a_tick_claims_a_bounded_number_and_continues_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(maintenance, "TICK_PAGE", 10)
    monkeypatch.setattr(maintenance, "TICK_MAX", 20)
    world = World()
    for n in range(45):
        world.cursors.set_upkeep(
            SyncKey(f"u{n:03}", SourceKind.DRIVE), {"due_at": NOW}, create=True
        )
    counts = world.service.tick(NOW, "c")
    assert counts["claimed"] == 20 and counts["continued"] == 1
    assert world.ticks.bodies == [{"task": "tick", "cycle": "c"}]
    counts = world.service.tick(NOW, "c")  # the continuation
    assert counts["claimed"] == 20
    counts = world.service.tick(NOW, "c")
    assert counts["claimed"] == 5 and counts["continued"] == 0


def test_a_redelivered_batch_repeats_nothing() -> None:
    world = World()
    world.watches.start_all("u1", _features())
    for key in FEATURE_KEYS:
        world.cursors.set_upkeep(key, {"reconcile_at": NOW - timedelta(minutes=1)})
        world.cursors.set_upkeep(key, {"due_at": NOW - timedelta(minutes=1)})
    world.service.tick(NOW, "c")
    body = world.work.bodies[0]
    keys = decode_sources(body["sources"])
    assert keys is not None
    world.google.calls.clear()
    first = world.service.work(keys, "c", NOW, "m1")
    again = world.service.work(keys, "c", NOW, "m1")
    assert first == {"reconciled": 3} and again == {"not_claimed": 3}
    assert len(world.google.calls) == 3


def test_pushes_since_the_last_reconcile_spare_the_google_call() -> None:
    world = World()
    world.watches.start_all("u1", _features()[:1])
    key = FEATURE_KEYS[0]
    pushed = datetime.now(UTC)  # after the watch started
    world.cursors.set_upkeep(key, {"last_notified_at": pushed, "reconcile_at": pushed})
    world.cursors.set_upkeep(key, {"due_at": pushed})
    world.google.calls.clear()
    later = pushed + timedelta(minutes=1)
    world.run_cycle(later)
    assert world.google.calls == []
    assert world.cursors.docs[key]["reconcile_at"] == later + POLICY.reconcile_max


def test_sources_of_an_unlinked_account_leave_the_index() -> None:
    world = World()
    world.watches.start_all("u1", _features())
    world.linked = False
    for key in FEATURE_KEYS:
        world.cursors.set_upkeep(key, {"due_at": NOW})
    world.run_cycle(NOW)
    assert all(world.cursors.docs[key]["due_at"] is None for key in FEATURE_KEYS)
    assert world.channels.channels == {}


def test_prune_is_bounded_and_chains_while_full() -> None:
    world = World()
    assert world.service.prune(NOW) == {"pruned": 500, "continued": 1}
    assert world.work.bodies == [{"task": "prune"}]


def test_work_messages_group_an_account_and_decode_strictly() -> None:
    keys = [
        SyncKey("b", SourceKind.GMAIL),
        SyncKey("a", SourceKind.DRIVE),
        SyncKey("a", SourceKind.GMAIL),
    ]
    (message,) = work_messages(keys, "c")
    assert [s[0] for s in message["sources"]] == ["a", "a", "b"]
    assert decode_sources(message["sources"]) is not None
    for bad in (None, [], [["a", "fax", ""]], [["", "gmail", ""]], [["a", "gmail"]], "x"):
        assert decode_sources(bad) is None
    assert decode_sources([["a", "gmail", ""]] * (maintenance.WORK_BATCH + 1)) is None


def test_a_batch_of_skipped_sources_builds_nothing_of_the_google_side() -> None:
    """The maintenance worker's skip path (cursor gone or claimed by another cycle) reads
    the cursors only: the container resolves neither the watch service nor what it is
    built from (sources, Google gateway, credentials, vault), nor the link state."""
    cursors = Cursors()
    other = SyncKey("u1", SourceKind.GMAIL, "")
    cursors.set_upkeep(other, {"claim": "another-cycle"}, create=True)
    gone = SyncKey("u2", SourceKind.CALENDAR, "primary")
    app = Container(
        Settings(calendar_webhook_url="https://x/c", drive_webhook_url="https://x/d"),
        firestore=Unreachable("firestore"),
        vault=Unreachable("token vault"),
        sync_store=cursors,
        due_index=cursors,
        work_queue=Queue(),
        tick_queue=Queue(),
    )
    given = set(vars(app))
    counts = app.maintenance.work([other, gone], "c", NOW, "m1")
    assert counts == {"not_claimed": 1, "gone": 1}
    assert set(vars(app)) - given == {"maintenance"}
    assert not set(vars(app)) & {
        "watch_service",
        "sources",
        "google",
        "credentials",
        "linking",
        "channels",
        "devices",
    }
    # A source this cycle claimed needs the link state, read through the real wiring.
    cursors.set_upkeep(other, {"claim": "c"})
    with pytest.raises(AssertionError, match="firestore"):
        app.maintenance.work([other], "c", NOW, "m2")
