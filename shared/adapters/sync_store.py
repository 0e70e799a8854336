"""Firestore adapter of the sync ports.

``users/{uid}/cursors/{key}``: cursor, dirty flag and lease (``lease_owner``, ``lease_until``,
``lease_delivery``: on the cursor document, so taking the lease starts the pass and the last
commit of a pass ends it, each one write);
``users/{uid}/cursors/{key}/events/{hash of event id}``: one record per calendar event,
with the own marks of our calendar API (``shared.adapters.own_marks``) merged in;
``users/{uid}/activity/{item}``: feed items (TTL ``expires_at``);
the cursor document's ``outbox`` map (job id → job): push jobs a pass committed with the
cursor, not yet known to be published;
``users/{uid}/outbox/{job}``: push jobs recorded outside a sync pass (``record``), likewise.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from shared.activity import ActivityItem, Category, PushJob, push_job_id
from shared.firestore import Collections, where
from shared.logs import current_trace_id, get_logger
from shared.ports.sync import CursorState, IndexWrite, RequestResult, SourceKind, SyncKey
from shared.sources.calendar import MARK_EXPIRY_FIELD, MARKS_FIELD

if TYPE_CHECKING:
    from google.cloud import firestore

log = get_logger(__name__)


_RELEASED: dict[str, Any] = {"lease_owner": None, "lease_until": None, "lease_delivery": None}


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class FirestoreSyncStore:
    """The ``SyncStore`` and ``CursorRecords`` ports on Firestore."""

    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def _user(self, uid: str) -> firestore.DocumentReference:
        return self._db.collection(Collections.USERS).document(uid)

    def cursor_ref(self, key: SyncKey) -> firestore.DocumentReference:
        """The cursor document of one source."""
        return self._user(key.uid).collection(Collections.CURSORS).document(key.doc_id)

    def record_ref(self, key: SyncKey, event_id: str) -> firestore.DocumentReference:
        """The record of one calendar event (the id hashed: any id Google gives fits)."""
        doc_id = hashlib.sha256(event_id.encode()).hexdigest()[:40]
        return self.cursor_ref(key).collection(Collections.EVENT_RECORDS).document(doc_id)

    def records_of(self, key: SyncKey, event_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The stored records of these events, read in batches of 300."""
        wanted = sorted(set(event_ids))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), 300):
            refs = [self.record_ref(key, event_id) for event_id in wanted[start : start + 300]]
            for snapshot in self._db.get_all(refs):
                data = snapshot.to_dict() if snapshot.exists else None
                if data and isinstance(data.get("id"), str):
                    found[data["id"]] = data
        return found

    def all_records(self, key: SyncKey) -> dict[str, dict[str, Any]]:
        """Every record of the calendar (one streamed query)."""
        found: dict[str, dict[str, Any]] = {}
        for snapshot in self.cursor_ref(key).collection(Collections.EVENT_RECORDS).stream():
            data = snapshot.to_dict() or {}
            if isinstance(data.get("id"), str):
                found[data["id"]] = data
        return found

    def forget(self, key: SyncKey) -> None:
        """Delete a source's cursor with its lease and event records (a calendar no longer
        followed)."""
        self._db.recursive_delete(self.cursor_ref(key))

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
        """Take the lease when it is free (and start the first pass); otherwise mark the
        source dirty for its holder.

        No transaction: the lease is taken with an update conditional on the cursor document
        being unchanged since we read it (of two claimers one wins, the other reads again),
        and dirty is a blind write, so a burst of notifications does not queue on a
        transaction lock. Clearing dirty as the lease is taken, before Google is read, means
        every notification marked before this point is covered by the pass about to run.
        """
        from google.api_core.exceptions import FailedPrecondition, NotFound

        ref = self.cursor_ref(key)
        marked = False
        for _ in range(4):
            seen = ref.get()
            if not seen.exists:
                return RequestResult.UNKNOWN, None
            data = seen.to_dict() or {}
            stored = _as_int(data.get("cursor"))
            if pushed is not None and stored is not None and pushed <= stored:
                return RequestResult.STALE, None
            if _held(data, now, delivery):
                if marked:
                    # Still held after our dirty write: its holder's finish sees the flag.
                    return RequestResult.QUEUED, None
                with contextlib.suppress(NotFound):
                    ref.update({"dirty": True})
                marked = True
                # The holder may have finished between our read and our dirty write; read
                # again: a free lease is then ours to take.
                continue
            take = {
                "lease_owner": owner,
                "lease_until": now + lease,
                "lease_delivery": delivery,
                "dirty": False,
            }
            if notified_at is not None:
                take["last_notified_at"] = notified_at
            try:
                written = ref.update(
                    take, option=self._db.write_option(last_update_time=seen.update_time)
                )
            except (FailedPrecondition, NotFound):
                continue  # someone wrote the cursor document meanwhile: look again
            state = _state(data)
            state.version = written.update_time
            return RequestResult.RUN, state
        return RequestResult.QUEUED, None

    def commit(
        self,
        key: SyncKey,
        started_from: CursorState,
        items: list[ActivityItem],
        cursor: CursorState | None,
        now: datetime,
        records: Sequence[IndexWrite] = (),
    ) -> list[PushJob] | None:
        """Record new items and their jobs, write event records and move the cursor (when
        given), if nobody moved it first."""
        return self._commit(key, started_from, items, cursor, now, records)

    def commit_last(
        self,
        key: SyncKey,
        started_from: CursorState,
        items: list[ActivityItem],
        cursor: CursorState,
        now: datetime,
        records: Sequence[IndexWrite],
    ) -> tuple[list[PushJob] | None, CursorState | None]:
        """``commit`` with the cursor, with no read at all when nothing touched the cursor
        document since our lease write (``started_from.version``, see ``_commit_unread``);
        the state after it carries the commit's own version for ``finish_pass``."""
        if started_from.version is not None:
            committed = self._commit_unread(key, started_from, items, cursor, now, records)
            if committed is not None:
                made, version = committed
                return made, CursorState(cursor.cursor, cursor.index, now, version=version)
        jobs = self._commit(key, started_from, items, cursor, now, records)
        if jobs is None:
            return None, None
        return jobs, CursorState(cursor.cursor, cursor.index, now)

    def _commit_unread(
        self,
        key: SyncKey,
        started_from: CursorState,
        items: list[ActivityItem],
        cursor: CursorState,
        now: datetime,
        records: Sequence[IndexWrite],
    ) -> tuple[list[PushJob], object] | None:
        """The commit as one batch of preconditioned writes, no read: the cursor update
        requires the document unchanged since our lease write (so the cursor is where the
        pass started and the lease is ours), each feed item is created (so an item stored
        before fails the batch). A failed precondition fails the whole batch atomically:
        None, and the caller takes the transaction, which reads and decides. Else the jobs
        and the cursor document's new version."""
        from google.api_core.exceptions import (
            AlreadyExists,
            Conflict,
            FailedPrecondition,
            NotFound,
        )

        batch = self._db.batch()
        jobs = self._stage(batch.create, key.uid, list({i.id: i for i in items}.values()), now)
        for write in records:
            record = self.record_ref(key, write.event_id)
            if write.record is None:
                batch.delete(record)
            else:
                batch.set(record, _merged_record(write), merge=True)
        update: dict[str, Any] = {
            **_outboxed(jobs),
            "cursor": cursor.cursor,
            "last_synced_at": now,
        }
        if cursor.index is not None:
            update["index"] = cursor.index
        option = self._db.write_option(last_update_time=started_from.version)
        batch.update(self.cursor_ref(key), update, option=option)
        try:
            results = batch.commit()
        except (AlreadyExists, Conflict, FailedPrecondition, NotFound):
            return None
        return jobs, results[-1].update_time

    def _commit(
        self,
        key: SyncKey,
        started_from: CursorState,
        items: list[ActivityItem],
        cursor: CursorState | None,
        now: datetime,
        records: Sequence[IndexWrite],
    ) -> list[PushJob] | None:
        """One transaction: the chunk, if the cursor did not move."""
        from google.cloud import firestore

        ref = self.cursor_ref(key)
        unique = {item.id: item for item in items}

        @firestore.transactional
        def commit(transaction: firestore.Transaction) -> list[PushJob] | None:
            snapshot = ref.get(transaction=transaction)
            data = (snapshot.to_dict() or {}) if snapshot.exists else {}
            if not snapshot.exists or data.get("cursor") != started_from.cursor:
                return None
            jobs = self._record(transaction, key.uid, unique, now)
            for write in records:
                record = self.record_ref(key, write.event_id)
                if write.record is None:
                    transaction.delete(record)
                else:
                    transaction.set(record, _merged_record(write), merge=True)
            update: dict[str, Any] = _outboxed(jobs)
            if cursor is not None:
                update.update({"cursor": cursor.cursor, "last_synced_at": now})
                if cursor.index is not None:
                    update["index"] = cursor.index
            if update:
                transaction.update(ref, update)
            return jobs

        result: list[PushJob] | None = commit(self._db.transaction())
        return result

    def finish_pass(
        self,
        key: SyncKey,
        owner: str,
        now: datetime,
        lease: timedelta,
        after: CursorState | None = None,
        published: Sequence[str] = (),
    ) -> CursorState | None:
        """End a pass in one write, forgetting the ``published`` jobs: extend the lease and
        start the next pass when notifications arrived meanwhile (the state it starts
        from), else release it (None). With no read when the cursor document is as our
        commit left it (``after.version``); else one transaction."""
        from google.api_core.exceptions import FailedPrecondition, NotFound
        from google.cloud import firestore

        ref = self.cursor_ref(key)
        clear = {_outbox_field(job_id): firestore.DELETE_FIELD for job_id in published}
        if after is not None and after.version is not None:
            option = self._db.write_option(last_update_time=after.version)
            try:
                ref.update({**_RELEASED, **clear}, option=option)
                return None
            except (FailedPrecondition, NotFound):
                pass  # marked dirty (or taken over) meanwhile: read and decide

        @firestore.transactional
        def finish(transaction: firestore.Transaction) -> CursorState | None:
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists:
                return None
            data = snapshot.to_dict() or {}
            upcoming = None
            update: dict[str, Any] = dict(clear)
            if data.get("lease_owner") != owner:
                log.warning("sync lease lost", extra={"source": key.kind.value})
            elif data.get("dirty"):
                update.update({"dirty": False, "lease_until": now + lease})
                upcoming = _state(data)
                upcoming.pending = []  # this run published what it committed
            else:
                update.update(_RELEASED)
            if update:
                transaction.update(ref, update)
            return upcoming

        result: CursorState | None = finish(self._db.transaction())
        return result

    def _record(
        self,
        transaction: firestore.Transaction,
        uid: str,
        items: dict[str, ActivityItem],
        now: datetime,
    ) -> list[PushJob]:
        """Inside ``transaction``: store the items not stored yet and a job for each."""
        activity = self._user(uid).collection(Collections.ACTIVITY)
        refs = [activity.document(item_id) for item_id in items]
        found = transaction.get_all(refs) if refs else []
        existing = {doc.id for doc in found if doc.exists}
        new = [item for item_id, item in items.items() if item_id not in existing]
        return self._stage(transaction.set, uid, new, now)

    def _stage(
        self,
        put_item: Callable[..., Any],
        uid: str,
        items: list[ActivityItem],
        now: datetime,
    ) -> list[PushJob]:
        """Stage each item (``put_item``: a transaction's or batch's set or create); the job
        of each, for the caller to put in an outbox in the same commit."""
        activity = self._user(uid).collection(Collections.ACTIVITY)
        jobs: list[PushJob] = []
        for item in items:
            put_item(activity.document(item.id), item.model_dump())
            jobs.append(
                PushJob(
                    job_id=push_job_id(uid, item.id),
                    uid=uid,
                    item_id=item.id,
                    kind=item.kind,
                    created_at=now,
                    trace_id=current_trace_id(),
                )
            )
        return jobs

    def record(self, uid: str, items: list[ActivityItem], now: datetime) -> list[PushJob]:
        """One transaction: store the items not stored yet, each with a job in the outbox."""
        from google.cloud import firestore

        unique = {item.id: item for item in items}

        outbox = self._user(uid).collection(Collections.OUTBOX)

        @firestore.transactional
        def record(transaction: firestore.Transaction) -> list[PushJob]:
            jobs = self._record(transaction, uid, unique, now)
            for job in jobs:
                transaction.set(outbox.document(job.job_id), job.model_dump())
            return jobs

        return record(self._db.transaction())

    def release(self, key: SyncKey, owner: str) -> None:
        """Give the lease up (after a failure) and leave the source dirty and due now: the
        next maintenance tick reconciles it (Google does not resend a channel
        notification whose handling failed)."""
        from google.api_core.exceptions import FailedPrecondition, NotFound

        now = datetime.now(UTC)
        retry: dict[str, Any] = {"dirty": True, "reconcile_at": now, "due_at": now}
        ref = self.cursor_ref(key)
        for _ in range(3):
            seen = ref.get()
            if not seen.exists:
                return  # the cursor is gone when the user unlinked
            ours = (seen.to_dict() or {}).get("lease_owner") == owner
            try:
                ref.update(
                    {**retry, **(_RELEASED if ours else {})},
                    option=self._db.write_option(last_update_time=seen.update_time),
                )
                return
            except (FailedPrecondition, NotFound):
                continue  # written meanwhile: look again
        with contextlib.suppress(NotFound):
            ref.update(retry)

    def clear_pending(self, key: SyncKey, job_ids: Iterable[str]) -> None:
        """Forget published jobs of the source's outbox (one write, whatever else changed)."""
        from google.api_core.exceptions import NotFound
        from google.cloud import firestore

        fields = {_outbox_field(job_id): firestore.DELETE_FIELD for job_id in job_ids}
        if fields:
            with contextlib.suppress(NotFound):  # the cursor is gone when the user unlinked
                self.cursor_ref(key).update(fields)

    def outbox(self, uid: str) -> list[PushJob]:
        """Jobs recorded outside a sync pass (``record``) but not yet published."""
        docs = self._user(uid).collection(Collections.OUTBOX).stream()
        return [PushJob.model_validate(doc.to_dict()) for doc in docs]

    def clear_outbox(self, uid: str, job_ids: Iterable[str]) -> None:
        """Forget published jobs."""
        batch = self._db.batch()
        outbox = self._user(uid).collection(Collections.OUTBOX)
        for job_id in job_ids:
            batch.delete(outbox.document(job_id))
        batch.commit()

    def save_cursor(self, key: SyncKey, cursor: CursorState, now: datetime, **extra: Any) -> None:
        """Start (or restart) a source at a fresh cursor, e.g. when its watch starts."""
        data: dict[str, Any] = {
            "uid": key.uid,
            "source": key.kind.value,
            "calendar_id": key.calendar_id or None,
            "cursor": cursor.cursor,
            "index": cursor.index,
            "dirty": False,
            "last_synced_at": now,
            **extra,
        }
        records = self.cursor_ref(key).collection(Collections.EVENT_RECORDS)
        if cursor.records or key.kind is SourceKind.CALENDAR:
            self._db.recursive_delete(records)  # a restart forgets what the old cursor knew
        for start in range(0, len(cursor.records), 500):
            batch = self._db.batch()
            for write in cursor.records[start : start + 500]:
                if write.record is not None:
                    batch.set(
                        self.record_ref(key, write.event_id), {"id": write.event_id, **write.record}
                    )
            batch.commit()
        # Jobs committed with the old cursor and not yet published still get published.
        before = self.cursor_ref(key).get(["outbox"])
        if before.exists and (before.to_dict() or {}).get("outbox"):
            data["outbox"] = (before.to_dict() or {})["outbox"]
        self.cursor_ref(key).set(data)

    def cursor_of(self, key: SyncKey) -> dict[str, Any] | None:
        """The stored cursor document, or None."""
        snapshot = self.cursor_ref(key).get()
        return (snapshot.to_dict() or {}) if snapshot.exists else None

    def set_watch_expiry(self, key: SyncKey, expires_at: datetime) -> None:
        """Record when the source's Gmail watch ends."""
        self.cursor_ref(key).update({"watch_expires_at": expires_at})

    def set_upkeep(self, key: SyncKey, fields: dict[str, Any], create: bool = False) -> bool:
        """Merge upkeep fields into the cursor document (see ``shared/services/upkeep.py``)."""
        from google.api_core.exceptions import NotFound

        ref = self.cursor_ref(key)
        if create:
            identity = {
                "uid": key.uid,
                "source": key.kind.value,
                "calendar_id": key.calendar_id or None,
            }
            ref.set({**identity, **fields}, merge=True)
            return True
        try:
            ref.update(fields)
        except NotFound:
            return False
        return True

    def calendars_of(self, uid: str) -> set[str]:
        """Ids of the calendars the user's cursors follow."""
        query = (
            self._user(uid)
            .collection(Collections.CURSORS)
            .where(filter=where("source", "==", SourceKind.CALENDAR.value))
        )
        return {
            str((snapshot.to_dict() or {}).get("calendar_id") or "") for snapshot in query.stream()
        } - {""}

    def of_user(self, uid: str) -> list[tuple[SyncKey, dict[str, Any]]]:
        """Every cursor document of one user."""
        docs = self._user(uid).collection(Collections.CURSORS).stream()
        return [(_key(data), data) for data in (doc.to_dict() or {} for doc in docs)]


def _held(data: dict[str, Any], now: datetime, delivery: str | None) -> bool:
    """Whether a live holder has the lease: not when free, run out, or held for the very
    delivery that is being redelivered (its holder died)."""
    until = data.get("lease_until")
    if not data.get("lease_owner") or until is None or until <= now:
        return False
    return delivery is None or data.get("lease_delivery") != delivery


def _state(data: dict[str, Any]) -> CursorState:
    pending = []
    for job in (data.get("outbox") or {}).values():
        try:
            pending.append(PushJob.model_validate(job))
        except ValidationError:
            log.warning("unreadable outbox job skipped")  # only ever written by commit
    return CursorState(
        data.get("cursor"), data.get("index"), data.get("last_synced_at"), pending=pending
    )


def _outbox_field(job_id: str) -> str:
    """The field path of a job in the cursor's ``outbox`` (job ids are hex digests)."""
    return f"outbox.{job_id}"


def _outboxed(jobs: list[PushJob]) -> dict[str, Any]:
    """The cursor fields that put ``jobs`` in the source's outbox."""
    return {_outbox_field(job.job_id): job.model_dump() for job in jobs}


def _merged_record(write: IndexWrite) -> dict[str, Any]:
    """The fields a sync record write merges into the event's document: the record's own
    (every one, so nothing of an older record survives), without the TTL ``expires_at`` a
    mark-only document was created with, and without the marks the pass is done with.
    Marks our calendar API wrote after the pass read the document are left alone."""
    from google.cloud import firestore

    assert write.record is not None
    fields: dict[str, Any] = {"id": write.event_id, **write.record}
    fields[MARK_EXPIRY_FIELD] = firestore.DELETE_FIELD
    if write.drop_marks:
        fields[MARKS_FIELD] = {mark: firestore.DELETE_FIELD for mark in write.drop_marks}
    return fields


def _key(data: dict[str, Any]) -> SyncKey:
    return SyncKey(
        uid=str(data["uid"]),
        kind=SourceKind(data["source"]),
        calendar_id=str(data.get("calendar_id") or ""),
    )


class FirestoreFeedReader:
    """Reads ``users/{uid}/activity`` newest first."""

    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def read(
        self,
        uid: str,
        limit: int,
        since: datetime | None,
        category: Category | None,
        after: tuple[datetime, str] | None,
    ) -> list[ActivityItem]:
        """Items by (created_at, id) descending; expired ones are skipped (TTL lags)."""
        from google.cloud import firestore

        collection = (
            self._db.collection(Collections.USERS).document(uid).collection(Collections.ACTIVITY)
        )
        query = collection.order_by("created_at", direction=firestore.Query.DESCENDING).order_by(
            "id", direction=firestore.Query.DESCENDING
        )
        if since is not None:
            query = query.where(filter=where("created_at", ">", since))
        if category is not None:
            query = query.where(filter=where("category", "==", category.value))
        if after is not None:
            query = query.start_after({"created_at": after[0], "id": after[1]})
        now = datetime.now(UTC)
        items = [ActivityItem.model_validate(doc.to_dict()) for doc in query.limit(limit).stream()]
        return [item for item in items if item.expires_at > now]
