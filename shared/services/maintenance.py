"""Fleet maintenance: a tick finds the sources that are due, workers do the work in bounded
batches.

- **Tick** (``watch_maintenance``, Cloud Scheduler every 5 minutes): pages through the due
  index (``due_at <= now``, ``TICK_PAGE`` per query), claims each page (``due_at`` moved
  ``CLAIM_FOR`` ahead and ``claim`` set to the tick's cycle id, each write conditional on
  the document not having changed since it was read), and publishes what it claimed to the
  work topic in messages of at most ``WORK_BATCH`` sources, grouped by account. Two ticks
  running at once read the same documents but only one claim per document succeeds, so no
  source is published twice. A tick claims at most ``TICK_MAX`` sources, then publishes a
  continuation of itself: its work does not grow with the number of accounts.
- **Work** (``maintenance_worker``, one message per invocation): for each source claimed by
  the message's cycle (others are skipped, so a redelivered batch repeats nothing done),
  repair a missing or failed watch, renew one near expiry, reconcile when due, re-read the
  user's calendar list when due (once per account per batch: calendars added, removed or
  unticked start or stop being followed), and write the next due time
  (``shared/services/upkeep.py``). Google failures of one source are
  recorded on it (backoff, alert); anything else fails the batch, which Pub/Sub redelivers
  (dead letter after 5 attempts).
- **Sync follow-ups**: a sync run still dirty after its passes publishes its source here
  (``{"task": "sync"}``) and a worker continues it at once.
- **Prune**: the daily scheduler message becomes one ``prune`` work message; each deletes
  at most ``PRUNE_BATCH`` stale devices and publishes the next while a full batch was found.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from shared.logs import get_logger
from shared.ports.maintenance import DueIndex, DueSource, WorkQueue
from shared.ports.sync import SourceKind, SyncKey
from shared.ports.watches import CursorRecords
from shared.services.upkeep import WatchStatus, calendar_list_due, pushed_since_reconcile
from shared.services.watches import WatchService, needs_user

log = get_logger(__name__)

TICK_PAGE = 500  # due sources per query page; one BatchWrite claims a page
TICK_MAX = 5_000  # sources one tick invocation claims (10 pages, a few seconds)
# Sources per work message, so per worker invocation: at worst a renewal (2 calls) and a
# reconcile of up to 5 passes each, well inside the 540 s limit even with Google retries.
WORK_BATCH = 30
# A claimed source whose batch never finished (worker crashed past its redeliveries) is
# due again after this: longer than a worker's 540 s plus Pub/Sub's retries.
CLAIM_FOR = timedelta(minutes=20)
PRUNE_BATCH = 500  # devices deleted per prune message


class Reconciler(Protocol):
    """Port: the sync runner of one kind of source, as maintenance uses it."""

    def reconcile(self, key: SyncKey, delivery: str | None = None) -> int | None: ...


def encode_sources(keys: list[SyncKey]) -> list[list[str]]:
    """Sources as they travel in a work message: ``[uid, kind, calendar_id]``."""
    return [[key.uid, key.kind.value, key.calendar_id] for key in keys]


def decode_sources(raw: object) -> list[SyncKey] | None:
    """The sources of a work message, or None when malformed."""
    if not isinstance(raw, list) or not 0 < len(raw) <= WORK_BATCH:
        return None
    keys = []
    for entry in raw:
        if not (
            isinstance(entry, list)
            and len(entry) == 3
            and all(isinstance(part, str) and len(part) <= 1024 for part in entry)
            and entry[0]
            and entry[1] in set(SourceKind)
        ):
            return None
        keys.append(SyncKey(entry[0], SourceKind(entry[1]), entry[2]))
    return keys


class MaintenanceService:
    """The tick and the work of fleet maintenance.

    ``watches`` is asked for the watch service only when a source needs upkeep: building
    it builds the Google side (credentials, token vault, sources), which a batch whose
    sources are all skipped (redelivered, claimed by another cycle) never uses, so that
    batch's cold start does not pay for it.
    """

    def __init__(
        self,
        watches: Callable[[], WatchService],
        cursors: CursorRecords,
        due: DueIndex,
        work: WorkQueue,
        ticks: WorkQueue,
        runner: Callable[[SourceKind], Reconciler],
        is_linked: Callable[[str], bool],
        prune: Callable[[datetime, int], int],
    ) -> None:
        self._watches_of = watches
        self._cursors = cursors
        self._due = due
        self._work = work
        self._ticks = ticks
        self._runner = runner
        self._is_linked = is_linked
        self._prune = prune

    @property
    def _watches(self) -> WatchService:
        return self._watches_of()

    # The tick

    def tick(self, now: datetime, cycle: str) -> dict[str, int]:
        """Claim up to ``TICK_MAX`` due sources for ``cycle`` and publish them as work."""
        counts = {"due": 0, "claimed": 0, "messages": 0, "continued": 0}
        after: DueSource | None = None
        while counts["claimed"] < TICK_MAX:
            page = self._due.due(now, TICK_PAGE, after)
            counts["due"] += len(page)
            claimed = self._due.claim(page, cycle, now + CLAIM_FOR) if page else []
            counts["claimed"] += len(claimed)
            messages = work_messages(claimed, cycle)
            if messages:
                self._work.publish(messages)
            counts["messages"] += len(messages)
            if len(page) < TICK_PAGE:
                return counts
            after = page[-1]
        # More may be due: a fresh invocation continues (claimed sources no longer match).
        self._ticks.publish([{"task": "tick", "cycle": cycle}])
        counts["continued"] = 1
        return counts

    def start_prune(self) -> None:
        """The daily prune: one bounded work message (it chains while it finds more)."""
        self._work.publish([{"task": "prune"}])

    # The work

    def prune(self, now: datetime) -> dict[str, int]:
        """Delete up to ``PRUNE_BATCH`` stale devices; chain another batch while full."""
        pruned = self._prune(now, PRUNE_BATCH)
        if pruned >= PRUNE_BATCH:
            self._work.publish([{"task": "prune"}])
        return {"pruned": pruned, "continued": int(pruned >= PRUNE_BATCH)}

    def follow_up(self, keys: list[SyncKey], delivery: str) -> dict[str, int]:
        """Continue syncs left dirty after their passes."""
        counts = {"synced": 0, "skipped": 0}
        for key in keys:
            found = self._runner(key.kind).reconcile(key, f"{delivery}/{key.doc_id}")
            counts["skipped" if found is None else "synced"] += 1
        return counts

    def work(self, keys: list[SyncKey], cycle: str, now: datetime, delivery: str) -> dict[str, int]:
        """Upkeep of each source of one batch claimed by ``cycle``."""
        counts: dict[str, int] = {}
        linked: dict[str, bool] = {}  # uid -> linked, read once per batch when first needed
        lists: dict[str, datetime] = {}  # uid -> next calendar list re-read, once per batch
        for key in keys:
            outcome = self._upkeep(key, cycle, now, linked, f"{delivery}/{key.doc_id}", lists)
            counts[outcome] = counts.get(outcome, 0) + 1
        return counts

    def _upkeep(
        self,
        key: SyncKey,
        cycle: str,
        now: datetime,
        linked: dict[str, bool],
        delivery: str,
        lists: dict[str, datetime],
    ) -> str:
        record = self._cursors.cursor_of(key)
        if record is None:
            return "gone"
        if record.get("claim") != cycle:
            return "not_claimed"  # done already (a redelivery) or claimed by another cycle
        if key.uid not in linked:
            linked[key.uid] = self._is_linked(key.uid)
        if not linked[key.uid]:
            self._watches.stop_source(key, record)
            self._cursors.set_upkeep(key, {"claim": None, "due_at": None})
            return "unlinked"
        changes: dict[str, Any] = {"claim": None}
        if key.kind is SourceKind.CALENDAR and (key.uid in lists or calendar_list_due(record, now)):
            if key.uid not in lists:
                lists[key.uid] = self._follow_calendars(key.uid, now)
                record = self._cursors.cursor_of(key)
                if record is None:
                    return "gone"  # the calendar left the user's list: stopped and forgotten
            changes["calendar_list_at"] = lists[key.uid]
        outcome = "checked"
        healthy = (record.get("watch_status") or WatchStatus.ACTIVE) == WatchStatus.ACTIVE
        renew_at = self._watches.policy.renew_at(key.kind, record)
        try:
            if not healthy:
                repaired = self._watches.repair(key, record, now)
                if not repaired:
                    return "repaired"  # started from scratch: the whole record written anew
                changes |= repaired
                outcome = "repaired"
            elif renew_at is not None and renew_at <= now:
                changes |= self._watches.renew(key, record, now)
                outcome = "renewed"
        except Exception as exc:
            if needs_user(exc):
                self._cursors.set_upkeep(key, {"claim": None, "due_at": None})
                return "needs_user"
            changes |= self._watches.repair_failed(key, record, now, exc)
            outcome = "watch_failed"
        record = {**record, **changes}
        reconcile_at = record.get("reconcile_at")
        if record.get("cursor") is not None and (
            outcome == "repaired" or reconcile_at is None or reconcile_at <= now
        ):
            changes |= self._reconcile(key, record, now, delivery)
            outcome = outcome if outcome != "checked" else "reconciled"
        changes["due_at"] = self._watches.policy.due_at(key.kind, {**record, **changes})
        self._cursors.set_upkeep(key, changes)
        return outcome

    def _follow_calendars(self, uid: str, now: datetime) -> datetime:
        """Re-read the user's calendar list (start new calendars, stop removed or unticked
        ones); when to read it next (sooner after a failure)."""
        try:
            self._watches.follow_calendars(uid)
        except Exception as exc:
            if not needs_user(exc):
                log.error(
                    "calendar list refresh failed",
                    extra={"alert": "calendar_list_failed", "reason": type(exc).__name__},
                )
            return now + self._watches.policy.reconcile_min
        return now + self._watches.policy.calendar_list_every

    def _reconcile(
        self, key: SyncKey, record: dict[str, Any], now: datetime, delivery: str
    ) -> dict[str, Any]:
        """Sync a silent or unhealthy source (no Google call when pushes prove the
        channel works); the next reconcile time."""
        healthy = (record.get("watch_status") or WatchStatus.ACTIVE) == WatchStatus.ACTIVE
        found: int | None = None
        if not (healthy and pushed_since_reconcile(record)):
            try:
                found = self._runner(key.kind).reconcile(key, delivery)
                if found:
                    log.info(
                        "reconcile found unannounced changes", extra={"source": key.kind.value}
                    )
            except Exception as exc:
                if not needs_user(exc):
                    log.error(
                        "reconcile sync failed",
                        extra={
                            "alert": "reconcile_failed",
                            "source": key.kind.value,
                            "reason": type(exc).__name__,
                        },
                    )
                found = 1  # try again soon
        at, every = self._watches.policy.next_reconcile(record, now, found)
        return {
            "reconcile_at": at,
            "reconcile_every_s": int(every.total_seconds()),
            "reconciled_at": now,
        }


def work_messages(keys: list[SyncKey], cycle: str) -> list[dict[str, Any]]:
    """Work messages of at most ``WORK_BATCH`` sources, an account's sources together."""
    ordered = sorted(keys, key=lambda key: (key.uid, key.kind.value, key.calendar_id))
    return [
        {"task": "work", "cycle": cycle, "sources": encode_sources(ordered[i : i + WORK_BATCH])}
        for i in range(0, len(ordered), WORK_BATCH)
    ]
