"""Ports of the sync half: what a synced source is, what one pass produced, and the
stores and sources the sync runner works through."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    # Annotations only: the pydantic models are built by the modules that use them, not
    # by every function that names a source (cold start).
    from shared.activity import ActivityItem, PushJob


class SourceKind(StrEnum):
    """Where changes come from."""

    GMAIL = "gmail"
    DRIVE = "drive"
    CALENDAR = "calendar"


@dataclass(frozen=True)
class SyncKey:
    """One synced source of one user."""

    uid: str
    kind: SourceKind
    calendar_id: str = ""

    @property
    def doc_id(self) -> str:
        """Document id of the cursor under ``users/{uid}/cursors``."""
        if self.kind is SourceKind.CALENDAR:
            return "calendar-" + hashlib.sha256(self.calendar_id.encode()).hexdigest()[:20]
        return self.kind.value


@dataclass(frozen=True)
class IndexWrite:
    """One per-event record of a calendar to store (``record``) or forget (None).

    Stored one document per event under the calendar's cursor, so the sync state of a
    calendar never grows one document past Firestore's size and index-entry limits.
    A stored record is merged into the document: the own marks our calendar API wrote
    there stay, but for ``drop_marks``, the marks the pass consumed or found stale.
    """

    event_id: str
    record: dict[str, Any] | None
    drop_marks: tuple[str, ...] = ()


@dataclass
class CursorState:
    """Where the last committed pass left off; ``index``: a small map kept in the cursor
    document (sources that need one); ``records``: calendar event records to store with a
    new cursor (a calendar's first listing)."""

    cursor: str | None
    index: dict[str, str] | None = None
    synced_at: datetime | None = None  # start of the last committed pass (or the cursor's creation)
    records: list[IndexWrite] = field(default_factory=list)
    # Jobs committed with this cursor and perhaps not published (a run crashed between
    # its commit and its publish): the outbox of the source, held on its cursor.
    pending: list[PushJob] = field(default_factory=list)
    # Opaque to services: the cursor as the store's own lease write left it. A commit
    # conditional on it needs no read (anything written meanwhile makes it fall back).
    version: object | None = None


@dataclass
class SyncBatch:
    """What one pass produced: feed items, the cursor to move to (with its ``index``), and
    calendar event record writes (committed after the items, the last chunk with the
    cursor)."""

    items: list[ActivityItem]
    cursor: str
    index: dict[str, str] | None = None
    notes: dict[str, int] = field(default_factory=dict)
    records: list[IndexWrite] = field(default_factory=list)


class RequestResult(StrEnum):
    """What a notification led to."""

    RUN = "run"
    QUEUED = "queued"
    STALE = "stale"
    UNKNOWN = "unknown"


class SyncStore(Protocol):
    """Port: cursors, leases, feed items and the outbox.

    The lease and the source's outbox live on the cursor document, so taking the lease also
    starts the first pass (``request``: the dirty flag cleared, ``notified_at`` recorded,
    the cursor and the outbox returned), and ending a pass is one write that also forgets
    the jobs it published (``finish_pass``: the lease released, or kept and the next pass
    started when notifications arrived meanwhile). ``commit`` and ``finish_pass`` are each
    one transaction, or a write conditional on the cursor document's version when nothing
    else wrote it meanwhile (no read); ``request`` takes the lease with a write conditional
    on the cursor document being unchanged since it was read and marks the source dirty
    with blind writes, so a burst does not queue on a transaction lock.

    ``delivery``: a stable id of what triggered the run (a Pub/Sub message id, a channel
    message number). A lease whose holder had the same delivery is taken over at once: that
    delivery is being redelivered because its holder died or timed out.
    ``notified_at``: set when a Google notification starts the run (``last_notified_at``,
    which the watch health and adaptive reconcile read).
    """

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
        """The result, with the state the first pass starts from when it is ``RUN``."""
        ...

    def commit(
        self,
        key: SyncKey,
        started_from: CursorState,
        items: list[ActivityItem],
        cursor: CursorState | None,
        now: datetime,
        records: Sequence[IndexWrite] = (),
    ) -> list[PushJob] | None:
        """Commit one chunk of a pass; the new jobs, or None when the cursor moved."""
        ...

    def commit_last(
        self,
        key: SyncKey,
        started_from: CursorState,
        items: list[ActivityItem],
        cursor: CursorState,
        now: datetime,
        records: Sequence[IndexWrite],
    ) -> tuple[list[PushJob] | None, CursorState | None]:
        """The chunk that moves the cursor: the new jobs and the state after it (both None
        when the cursor moved meanwhile)."""
        ...

    def finish_pass(
        self,
        key: SyncKey,
        owner: str,
        now: datetime,
        lease: timedelta,
        after: CursorState | None = None,
        published: Sequence[str] = (),
    ) -> CursorState | None:
        """Under our lease, forgetting the ``published`` jobs of the outbox: when
        notifications arrived meanwhile, extend the lease, clear the dirty flag and return
        the state the next pass starts from; else release the lease (None). ``after``: the
        state ``commit_last`` returned, when the pass committed."""
        ...

    def release(self, key: SyncKey, owner: str) -> None: ...
    def clear_pending(self, key: SyncKey, job_ids: Iterable[str]) -> None:
        """Forget published jobs of the source's outbox (``CursorState.pending``)."""
        ...

    def outbox(self, uid: str) -> list[PushJob]:
        """The user's outbox of jobs recorded outside a sync pass (``FeedRecorder``)."""
        ...

    def clear_outbox(self, uid: str, job_ids: Iterable[str]) -> None: ...


class Source(Protocol):
    """Port: reads the changes since a cursor from Google (no Firestore writes)."""

    def fetch(self, key: SyncKey, state: CursorState, now: datetime) -> SyncBatch: ...


class EventRecords(Protocol):
    """Port: the per-event records of a calendar (reads; writes go through ``commit``)."""

    def records_of(self, key: SyncKey, event_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The stored records of these events (missing ones absent)."""
        ...

    def all_records(self, key: SyncKey) -> dict[str, dict[str, Any]]:
        """Every stored record of the calendar (a full resync compares them all)."""
        ...


class JobPublisher(Protocol):
    """Port: publishes push jobs to the push-jobs topic."""

    def publish(self, jobs: list[PushJob]) -> None: ...


class FeedRecorder(Protocol):
    """Port: records feed items outside a sync pass (each with a job in the outbox)."""

    def record(self, uid: str, items: list[ActivityItem], now: datetime) -> list[PushJob]: ...
    def clear_outbox(self, uid: str, job_ids: Iterable[str]) -> None: ...


class Outbox(Protocol):
    """Port: forgets outbox jobs once they are published."""

    def clear_outbox(self, uid: str, job_ids: Iterable[str]) -> None: ...
