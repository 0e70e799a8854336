"""The coalescing sync runner with in-memory fakes of its ports."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from shared.activity import ACTIVITY_RETENTION, ActivityItem, Kind, PushJob, item_id, push_job_id
from shared.ports.sync import (
    CursorState,
    IndexWrite,
    RequestResult,
    SourceKind,
    SyncBatch,
    SyncKey,
)
from shared.services.sync import SyncRunner

KEY = SyncKey("u1", SourceKind.GMAIL)


def _item(n: int) -> ActivityItem:
    now = datetime.now(UTC)
    return ActivityItem(
        id=item_id(Kind.MAIL_RECEIVED, f"m{n}", ""),
        kind=Kind.MAIL_RECEIVED,
        category=Kind.MAIL_RECEIVED.category,
        resource_id=f"m{n}",
        group_key="t",
        occurred_at=now,
        created_at=now,
        expires_at=now + ACTIVITY_RETENTION,
    )


class MemoryStore:
    """One cursor document, feed and outbox in memory, with the store's semantics."""

    def __init__(self, cursor: str = "10") -> None:
        self.cursor = cursor
        self.dirty = False
        self.owner: str | None = None
        self.items: dict[str, ActivityItem] = {}
        self.outbox_jobs: dict[str, PushJob] = {}
        self.records: dict[str, dict[str, object]] = {}
        self.commits: list[tuple[int, int, str | None]] = []
        self.delivery: str | None = None
        self.notified_at: datetime | None = None
        self.always_dirty = False  # a mailbox busy through every pass

    def request(
        self,
        key: SyncKey,
        owner: str,
        now: datetime,
        lease: timedelta,
        pushed: int | None,
        delivery: str | None = None,
        notified_at: datetime | None = None,
    ) -> tuple[RequestResult, CursorState | None]:
        if pushed is not None and pushed <= int(self.cursor):
            return RequestResult.STALE, None
        self.dirty = True
        redelivered = delivery is not None and delivery == self.delivery
        if self.owner is not None and not redelivered:
            return RequestResult.QUEUED, None
        self.owner, self.delivery = owner, delivery
        # Taking the lease starts the first pass.
        self.dirty = self.always_dirty
        self.notified_at = notified_at or self.notified_at
        return RequestResult.RUN, CursorState(self.cursor, pending=list(self.outbox_jobs.values()))

    def commit(
        self,
        key: SyncKey,
        started_from: CursorState,
        items: list[ActivityItem],
        cursor: CursorState | None,
        now: datetime,
        records: Sequence[IndexWrite] = (),
    ) -> list[PushJob] | None:
        if started_from.cursor != self.cursor:
            return None
        self.commits.append((len(items), len(records), cursor.cursor if cursor else None))
        for write in records:
            if write.record is None:
                self.records.pop(write.event_id, None)
            else:
                self.records[write.event_id] = write.record
        jobs = []
        for item in items:
            if item.id in self.items:
                continue
            self.items[item.id] = item
            job = PushJob(
                job_id=push_job_id(key.uid, item.id),
                uid=key.uid,
                item_id=item.id,
                kind=item.kind,
                created_at=now,
            )
            self.outbox_jobs[job.job_id] = job
            jobs.append(job)
        if cursor is not None:
            self.cursor = str(cursor.cursor)
        return jobs

    def commit_last(
        self,
        key: SyncKey,
        started_from: CursorState,
        items: list[ActivityItem],
        cursor: CursorState,
        now: datetime,
        records: Sequence[IndexWrite],
    ) -> tuple[list[PushJob] | None, CursorState | None]:
        jobs = self.commit(key, started_from, items, cursor, now, records)
        return jobs, (None if jobs is None else CursorState(cursor.cursor, cursor.index, now))

    def finish_pass(
        self,
        key: SyncKey,
        owner: str,
        now: datetime,
        lease: timedelta,
        after: CursorState | None = None,
        published: Sequence[str] = (),
    ) -> CursorState | None:
        self.clear_pending(key, published)
        if self.owner != owner:
            return None
        if self.dirty:
            self.dirty = self.always_dirty  # the next pass starts
            return CursorState(self.cursor)
        self.owner = None
        return None

    def release(self, key: SyncKey, owner: str) -> None:
        if self.owner == owner:
            self.owner, self.dirty = None, True

    def clear_pending(self, key: SyncKey, job_ids: Iterable[str]) -> None:
        for job_id in job_ids:
            self.outbox_jobs.pop(job_id, None)

    def outbox(self, uid: str) -> list[PushJob]:
        return []  # jobs recorded outside a pass: none in these tests

    def clear_outbox(self, uid: str, job_ids: Iterable[str]) -> None:
        for job_id in job_ids:
            self.outbox_jobs.pop(job_id, None)


class ScriptedSource:
    """Returns queued batches; can run a hook mid-fetch to simulate a racing notification."""

    def __init__(self, batches: list[SyncBatch]) -> None:
        self.batches = batches
        self.calls = 0
        self.during_fetch: list[object] = []

    def fetch(self, key: SyncKey, state: CursorState, now: datetime) -> SyncBatch:
        self.calls += 1
        for hook in self.during_fetch:
            hook()  # type: ignore[operator]
        self.during_fetch = []
        return self.batches.pop(0)


class RecordingPublisher:
    def __init__(self, fail_times: int = 0) -> None:
        self.published: list[PushJob] = []
        self.fail_times = fail_times

    def publish(self, jobs: list[PushJob]) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise RuntimeError("pubsub down")
        self.published.extend(jobs)


def test_one_pass_records_items_jobs_and_cursor() -> None:
    store, publisher = MemoryStore(), RecordingPublisher()
    source = ScriptedSource([SyncBatch([_item(1), _item(2)], "20")])
    assert SyncRunner(store, source, publisher).notify(KEY, pushed=15) is RequestResult.RUN
    assert store.cursor == "20" and len(store.items) == 2
    assert [job.item_id for job in publisher.published] == list(store.items)
    assert store.outbox_jobs == {} and store.owner is None


def test_stale_and_queued_notifications_do_not_fetch() -> None:
    store = MemoryStore(cursor="30")
    source = ScriptedSource([])
    runner = SyncRunner(store, source, RecordingPublisher())
    assert runner.notify(KEY, pushed=30) is RequestResult.STALE
    store.owner = "someone-else"
    assert runner.notify(KEY, pushed=31) is RequestResult.QUEUED
    assert source.calls == 0 and store.dirty


def test_notification_during_a_pass_causes_exactly_one_more_pass() -> None:
    store, publisher = MemoryStore(), RecordingPublisher()
    source = ScriptedSource([SyncBatch([_item(1)], "20"), SyncBatch([_item(2)], "25")])
    runner = SyncRunner(store, source, publisher)
    source.during_fetch = [lambda: runner.notify(KEY, pushed=21)]  # queued: marks dirty
    runner.notify(KEY, pushed=11)
    assert source.calls == 2 and store.cursor == "25"
    assert len(publisher.published) == 2


def test_items_seen_twice_are_recorded_and_pushed_once() -> None:
    store, publisher = MemoryStore(), RecordingPublisher()
    source = ScriptedSource([SyncBatch([_item(1)], "20"), SyncBatch([_item(1), _item(2)], "30")])
    runner = SyncRunner(store, source, publisher)
    runner.notify(KEY, pushed=11)
    runner.notify(KEY, pushed=21)
    assert len(store.items) == 2 and len(publisher.published) == 2


def test_a_pass_that_raced_another_commits_nothing() -> None:
    store, publisher = MemoryStore(), RecordingPublisher()
    source = ScriptedSource([SyncBatch([_item(1)], "20")])
    source.during_fetch = [lambda: setattr(store, "cursor", "19")]  # another instance committed
    SyncRunner(store, source, publisher).notify(KEY, pushed=11)
    assert store.cursor == "19" and store.items == {} and publisher.published == []


def test_publish_failure_keeps_jobs_in_outbox_and_next_run_sends_them() -> None:
    store, publisher = MemoryStore(), RecordingPublisher(fail_times=1)
    source = ScriptedSource([SyncBatch([_item(1)], "20"), SyncBatch([], "21")])
    runner = SyncRunner(store, source, publisher)
    with pytest.raises(RuntimeError):
        runner.notify(KEY, pushed=11)
    assert store.cursor == "20" and len(store.outbox_jobs) == 1 and store.owner is None
    runner.notify(KEY, pushed=21)
    assert len(publisher.published) == 1 and store.outbox_jobs == {}


def test_fetch_failure_releases_the_lease_and_leaves_it_dirty() -> None:
    store = MemoryStore()

    class Failing:
        def fetch(self, key: SyncKey, state: CursorState, now: datetime) -> SyncBatch:
            raise TimeoutError

    with pytest.raises(TimeoutError):
        SyncRunner(store, Failing(), RecordingPublisher()).notify(KEY, pushed=11)
    assert store.owner is None and store.dirty and store.cursor == "10"


def test_large_batches_commit_items_then_records_and_move_the_cursor_last() -> None:
    store, publisher = MemoryStore(), RecordingPublisher()
    writes = [IndexWrite(f"e{n}", {"etag": str(n)}) for n in range(1000)]
    items = [_item(n) for n in range(250)]
    SyncRunner(store, ScriptedSource([SyncBatch(items, "20", records=writes)]), publisher).notify(
        KEY, pushed=11
    )
    # One write per item or record (an item's job rides on the cursor's write): items
    # first, then records, at most 450 writes per commit, the cursor with the last one.
    assert store.commits == [
        (250, 200, None),
        (0, 450, None),
        (0, 350, "20"),
    ]
    assert len(store.records) == 1000 and store.cursor == "20" and len(publisher.published) == 250


def test_a_run_still_dirty_after_its_passes_is_handed_to_a_follow_up() -> None:
    store, publisher = MemoryStore(), RecordingPublisher()
    store.always_dirty = True
    source = ScriptedSource([SyncBatch([_item(n)], str(20 + n)) for n in range(5)])
    followed: list[SyncKey] = []
    SyncRunner(store, source, publisher, followed.append).notify(KEY, pushed=11)
    assert source.calls == 5 and len(publisher.published) == 5
    assert followed == [KEY] and store.owner is None and store.dirty


def test_a_redelivered_notification_takes_over_the_lease_of_its_dead_holder() -> None:
    store = MemoryStore()
    store.owner, store.delivery = "died-mid-pass", "message-7"
    source = ScriptedSource([SyncBatch([_item(1)], "20"), SyncBatch([_item(2)], "30")])
    runner = SyncRunner(store, source, RecordingPublisher())
    assert runner.notify(KEY, pushed=11, delivery="message-8") is RequestResult.QUEUED
    assert runner.notify(KEY, pushed=11, delivery="message-7") is RequestResult.RUN
    assert store.cursor == "20" and source.calls == 1


def test_reconcile_counts_new_items_and_records_no_notification() -> None:
    store, publisher = MemoryStore(), RecordingPublisher()
    source = ScriptedSource([SyncBatch([_item(1), _item(2)], "20"), SyncBatch([], "20")])
    runner = SyncRunner(store, source, publisher)
    assert runner.reconcile(KEY) == 2 and store.notified_at is None
    runner.notify(KEY, pushed=21)
    assert store.notified_at is not None
    store.owner = "someone-else"
    assert runner.reconcile(KEY) is None


def test_a_notification_while_a_pass_publishes_does_not_publish_its_jobs_again() -> None:
    # The lease is held until the published jobs are forgotten: a run starting meanwhile
    # would otherwise find them in the outbox and publish them a second time.
    store = MemoryStore()
    source = ScriptedSource([SyncBatch([_item(1)], "20"), SyncBatch([], "20")])
    published: list[PushJob] = []

    class NotifyingPublisher:
        def publish(self, jobs: list[PushJob]) -> None:
            published.extend(jobs)
            if len(published) == 1:
                assert runner.notify(KEY, pushed=21) is RequestResult.QUEUED

    runner = SyncRunner(store, source, NotifyingPublisher())
    runner.notify(KEY, pushed=11)
    assert [job.item_id for job in published] == list(store.items)
    assert source.calls == 2 and store.outbox_jobs == {} and store.owner is None
