"""Firestore adapter of the sync ports.

``users/{uid}/cursors/{key}``: cursor, calendar index, dirty flag and lease;
``users/{uid}/activity/{item}``: feed items (TTL ``expires_at``);
``users/{uid}/outbox/{job}``: push jobs committed but not yet published.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.activity import ActivityItem, Category, PushJob, push_job_id
from shared.firestore import Collections, where
from shared.services.sync import CursorState, RequestResult, SourceKind, SyncKey

if TYPE_CHECKING:
    from google.cloud import firestore


_RELEASE_ATTEMPTS = 3


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class FirestoreSyncStore:
    """Each method is one transaction (or one batch)."""

    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def _user(self, uid: str) -> firestore.DocumentReference:
        return self._db.collection(Collections.USERS).document(uid)

    def cursor_ref(self, key: SyncKey) -> firestore.DocumentReference:
        """The cursor document of one source."""
        return self._user(key.uid).collection(Collections.CURSORS).document(key.doc_id)

    def request(
        self, key: SyncKey, owner: str, now: datetime, lease: timedelta, pushed: int | None
    ) -> RequestResult:
        """Mark the source dirty; take the lease when it is free."""
        from google.cloud import firestore

        ref = self.cursor_ref(key)
        # A plain read settles most of a burst without a transaction: a stale push, or a
        # lease already held with the dirty flag already set (its holder will run one more
        # pass that starts after this read, so this notification is covered).
        seen = ref.get()
        if not seen.exists:
            return RequestResult.UNKNOWN
        current = seen.to_dict() or {}
        stored_now = _as_int(current.get("cursor"))
        if pushed is not None and stored_now is not None and pushed <= stored_now:
            return RequestResult.STALE
        held = current.get("lease_owner") and (current.get("lease_until") or now) > now
        if held and current.get("dirty"):
            return RequestResult.QUEUED

        @firestore.transactional
        def request(transaction: firestore.Transaction) -> RequestResult:
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists:
                return RequestResult.UNKNOWN
            data = snapshot.to_dict() or {}
            stored = _as_int(data.get("cursor"))
            if pushed is not None and stored is not None and pushed <= stored:
                return RequestResult.STALE
            lease_until = data.get("lease_until")
            if data.get("lease_owner") and lease_until and lease_until > now:
                if not data.get("dirty"):
                    transaction.update(ref, {"dirty": True})
                return RequestResult.QUEUED
            transaction.update(
                ref, {"dirty": True, "lease_owner": owner, "lease_until": now + lease}
            )
            return RequestResult.RUN

        return request(self._db.transaction())

    def begin_pass(self, key: SyncKey, owner: str) -> CursorState | None:
        """Clear the dirty flag under our lease and return the cursor to start from."""
        from google.cloud import firestore

        ref = self.cursor_ref(key)

        @firestore.transactional
        def begin(transaction: firestore.Transaction) -> CursorState | None:
            snapshot = ref.get(transaction=transaction)
            data = (snapshot.to_dict() or {}) if snapshot.exists else {}
            if data.get("lease_owner") != owner:
                return None
            transaction.update(ref, {"dirty": False})
            return CursorState(data.get("cursor"), data.get("index"))

        return begin(self._db.transaction())

    def commit(
        self,
        key: SyncKey,
        started_from: CursorState,
        items: list[ActivityItem],
        cursor: CursorState | None,
        now: datetime,
    ) -> list[PushJob] | None:
        """Record new items and their jobs, and move the cursor, if nobody moved it first."""
        from google.cloud import firestore

        ref = self.cursor_ref(key)
        activity = self._user(key.uid).collection(Collections.ACTIVITY)
        outbox = self._user(key.uid).collection(Collections.OUTBOX)
        unique = {item.id: item for item in items}
        item_refs = [activity.document(item_id) for item_id in unique]

        @firestore.transactional
        def commit(transaction: firestore.Transaction) -> list[PushJob] | None:
            snapshot = ref.get(transaction=transaction)
            data = (snapshot.to_dict() or {}) if snapshot.exists else {}
            if not snapshot.exists or data.get("cursor") != started_from.cursor:
                return None
            found = transaction.get_all(item_refs) if item_refs else []
            existing = {doc.id for doc in found if doc.exists}
            jobs: list[PushJob] = []
            for item_id, item in unique.items():
                if item_id in existing:
                    continue
                transaction.set(activity.document(item_id), item.model_dump())
                job = PushJob(
                    job_id=push_job_id(key.uid, item_id),
                    uid=key.uid,
                    item_id=item_id,
                    kind=item.kind,
                    created_at=now,
                )
                transaction.set(outbox.document(job.job_id), job.model_dump())
                jobs.append(job)
            if cursor is not None:
                update: dict[str, Any] = {"cursor": cursor.cursor, "last_synced_at": now}
                if cursor.index is not None:
                    update["index"] = cursor.index
                transaction.update(ref, update)
            return jobs

        return commit(self._db.transaction())

    def finish_pass(self, key: SyncKey, owner: str, now: datetime, lease: timedelta) -> bool:
        """True (lease extended) when notifications arrived meanwhile; else release."""
        from google.cloud import firestore

        ref = self.cursor_ref(key)

        @firestore.transactional
        def finish(transaction: firestore.Transaction) -> bool:
            snapshot = ref.get(transaction=transaction)
            data = (snapshot.to_dict() or {}) if snapshot.exists else {}
            if data.get("lease_owner") != owner:
                return False
            if data.get("dirty"):
                transaction.update(ref, {"lease_until": now + lease})
                return True
            transaction.update(ref, {"lease_owner": None, "lease_until": None})
            return False

        return finish(self._db.transaction())

    def release(self, key: SyncKey, owner: str) -> None:
        """Give the lease up (after a failure) and leave the source dirty for a retry."""
        from google.cloud import firestore

        ref = self.cursor_ref(key)

        @firestore.transactional
        def release(transaction: firestore.Transaction) -> None:
            snapshot = ref.get(transaction=transaction)
            if snapshot.exists and (snapshot.to_dict() or {}).get("lease_owner") == owner:
                transaction.update(ref, {"lease_owner": None, "lease_until": None, "dirty": True})

        # The failure that brought us here may be contention on this very document: try a
        # few times, so the next notification need not wait for the lease to run out.
        for attempt in range(_RELEASE_ATTEMPTS):
            try:
                release(self._db.transaction())
                return
            except Exception:
                if attempt == _RELEASE_ATTEMPTS - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def outbox(self, uid: str) -> list[PushJob]:
        """Jobs committed but not yet published."""
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
            "lease_owner": None,
            "lease_until": None,
            "last_synced_at": now,
            **extra,
        }
        self.cursor_ref(key).set(data)

    def of_kind(self, kind: SourceKind) -> Iterator[tuple[SyncKey, dict[str, Any]]]:
        """Every cursor of one kind of source, across users."""
        query = self._db.collection_group(Collections.CURSORS).where(
            filter=where("source", "==", kind.value)
        )
        for snapshot in query.stream():
            data = snapshot.to_dict() or {}
            yield _key(data), data

    def needing_reconcile(self, cutoff: datetime) -> Iterator[tuple[SyncKey, dict[str, Any]]]:
        """Cursors not synced since ``cutoff``, or left dirty by a failed or lost pass."""
        group = self._db.collection_group(Collections.CURSORS)
        seen: set[str] = set()
        for query in (
            group.where(filter=where("last_synced_at", "<", cutoff)),
            group.where(filter=where("dirty", "==", True)),
        ):
            for snapshot in query.stream():
                if snapshot.reference.path in seen:
                    continue
                seen.add(snapshot.reference.path)
                data = snapshot.to_dict() or {}
                yield _key(data), data


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
