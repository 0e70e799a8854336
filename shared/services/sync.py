"""Coalesced, exactly-once incremental sync of one source (Gmail, Drive or a calendar).

Notifications are hints. Each one marks the source *dirty*; whoever takes the lease runs
sync passes until the source is clean, so a burst of N notifications costs one or two
passes, not N. A pass reads changes from Google outside any transaction, then commits the
feed items, their push jobs (the source's outbox, held on its cursor document) and the new
cursor in one commit that first checks the cursor is still the one the pass started from:
a pass that raced another commits nothing. Item ids are deterministic, so a change seen
twice is recorded once and pushed once. Jobs are published after the commit and then
cleared from the outbox; a crash in between leaves them there, and the next run of the
source publishes them first (push dispatch deduplicates by job id, so a second publish is
harmless).

No waiting for the scheduler:
- A run still dirty after ``MAX_PASSES`` (a mailbox busy through every pass) releases the
  lease and hands the source to ``follow_up`` (a message on the maintenance work topic), so
  the next run starts within seconds, in a fresh invocation with its own time budget.
- A holder that dies mid-pass leaves its lease behind. The delivery that started it (a
  Pub/Sub message, a channel notification) was never acknowledged, so the platform delivers
  it again; the lease records that delivery's id, and the redelivery takes the lease over at
  once instead of waiting for ``LEASE`` to run out. The bound is the trigger's retry delay
  (Pub/Sub push: the subscription's minimum backoff, 10 s; Google's channel retries:
  exponential backoff). A delivery acknowledged meanwhile by another holder needs nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from shared.activity import ActivityItem, PushJob
from shared.logs import get_logger
from shared.ports.sync import (
    CursorState,
    IndexWrite,
    JobPublisher,
    Outbox,
    RequestResult,
    Source,
    SyncKey,
    SyncStore,
)

log = get_logger(__name__)

MAX_PASSES = 5
# Feed items and calendar event records per commit: one write each (an item's job rides on
# the cursor document's write); Firestore allows 500 writes per commit.
COMMIT_CHUNK = 450
LEASE = timedelta(seconds=120)


class SyncRunner:
    """Runs notifications for one kind of source through the lease and the outbox."""

    def __init__(
        self,
        store: SyncStore,
        source: Source,
        publisher: JobPublisher,
        follow_up: Callable[[SyncKey], None] | None = None,
    ) -> None:
        self._store = store
        self._source = source
        self._publisher = publisher
        self._follow_up = follow_up

    def notify(
        self, key: SyncKey, pushed: int | None = None, delivery: str | None = None
    ) -> RequestResult:
        """Record that a Google notification says ``key`` may have changes, and sync it
        unless someone else is. ``delivery``: the notification's stable id (see module)."""
        result, _ = self._request(key, pushed, delivery, notified=True)
        return result

    def reconcile(self, key: SyncKey, delivery: str | None = None) -> int | None:
        """Sync ``key`` although no notification came; the number of new feed items, or
        None when another holder is running (it covers this request)."""
        result, items = self._request(key, None, delivery, notified=False)
        return items if result is RequestResult.RUN else None

    def _request(
        self, key: SyncKey, pushed: int | None, delivery: str | None, *, notified: bool
    ) -> tuple[RequestResult, int]:
        owner = uuid.uuid4().hex
        now = datetime.now(UTC)
        notified_at = now if notified else None
        result, state = self._store.request(key, owner, now, LEASE, pushed, delivery, notified_at)
        if result is not RequestResult.RUN or state is None:
            log.info("sync not started", extra={"source": key.kind.value, "result": result.value})
            return result, 0
        return result, self._run(key, owner, state, reconcile=not notified)

    def _run(self, key: SyncKey, owner: str, state: CursorState, *, reconcile: bool) -> int:
        items = 0
        try:
            self._publish(key, state.pending)  # left by a run that crashed after its commit
            if reconcile:
                self.flush_outbox(key.uid)
            for _ in range(MAX_PASSES):
                published, upcoming = self._pass(key, owner, state)
                items += published
                if upcoming is None:
                    return items
                state = upcoming
            log.warning("sync still dirty after max passes", extra={"source": key.kind.value})
            self._store.release(key, owner)
        except Exception:
            self._store.release(key, owner)
            raise
        if self._follow_up is not None:
            self._follow_up(key)
        return items

    def _pass(self, key: SyncKey, owner: str, state: CursorState) -> tuple[int, CursorState | None]:
        """One pass: the number of new feed items it committed (0 when discarded), and the
        state of the next pass (None: the lease is released or lost)."""
        now = datetime.now(UTC)
        batch = self._source.fetch(key, state, now)
        # Items first, then record writes, the cursor with the last chunk: a pass cut short
        # re-reads from the old cursor, finds the same items (same ids, recorded once) and
        # the records it had not written yet. A small pass is one chunk, one commit.
        writes: list[ActivityItem | IndexWrite] = [*batch.items, *batch.records]
        chunks: list[tuple[list[ActivityItem], list[IndexWrite]]] = [
            (
                [w for w in writes[i : i + COMMIT_CHUNK] if isinstance(w, ActivityItem)],
                [w for w in writes[i : i + COMMIT_CHUNK] if isinstance(w, IndexWrite)],
            )
            for i in range(0, len(writes), COMMIT_CHUNK)
        ]
        chunks = chunks or [([], [])]
        published = 0
        upcoming: CursorState | None = None
        for number, (items, records) in enumerate(chunks):
            last = number == len(chunks) - 1
            if last:
                final = CursorState(batch.cursor, batch.index)
                jobs, after = self._store.commit_last(key, state, items, final, now, records)
            else:
                jobs = self._store.commit(key, state, items, None, now, records=records)
            if jobs is None:
                log.info(
                    "sync pass discarded: cursor moved meanwhile", extra={"source": key.kind.value}
                )
                return published, self._store.finish_pass(key, owner, datetime.now(UTC), LEASE)
            published += len(jobs)
            if not last:
                self._publish(key, jobs)
                continue
            # Published before the lease is released: the next holder finds in the outbox
            # only what a crashed run left there.
            if jobs:
                self._publisher.publish(jobs)
            ids = [job.job_id for job in jobs]
            upcoming = self._store.finish_pass(key, owner, datetime.now(UTC), LEASE, after, ids)
        log.info(
            "sync pass committed",
            extra={
                "source": key.kind.value,
                "items": len(batch.items),
                "jobs": published,
                **batch.notes,
            },
        )
        return published, upcoming

    def _publish(self, key: SyncKey, jobs: list[PushJob]) -> None:
        """Publish jobs committed to the source's outbox, then forget them there."""
        if not jobs:
            return
        self._publisher.publish(jobs)
        self._store.clear_pending(key, [job.job_id for job in jobs])

    def flush_outbox(self, uid: str) -> int:
        """Publish jobs recorded outside a sync pass (the relink push) that a crash left in
        the user's outbox; reconciles do it, so a notification's run costs no query."""
        jobs = self._store.outbox(uid)
        publish_committed(self._publisher, self._store, uid, jobs)
        return len(jobs)


def publish_committed(
    publisher: JobPublisher, outbox: Outbox, uid: str, jobs: list[PushJob]
) -> None:
    """Publish jobs already committed to the user's outbox, then forget them there (a crash
    in between leaves them for the next flush; dispatch deduplicates by job id)."""
    if not jobs:
        return
    publisher.publish(jobs)
    outbox.clear_outbox(uid, [job.job_id for job in jobs])
