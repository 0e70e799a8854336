"""Firestore adapters for push dispatch: the per-(job, device) send records and the feed item read.

``push_claims/{job_id}:{device_id}``: ``uid`` (erase deletes by it), ``job_id``, ``device_id``,
``state`` (``sent`` when written, just before the send request; later corrected to ``dropped``,
``failed`` or ``unknown``, or deleted to release it), ``created_at``, ``settled_at`` (a
correction), ``expires_at`` (Firestore TTL). See ``shared.services.push`` for the at-most-once
contract.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from shared.activity import ActivityItem, PushJob
from shared.firestore import Collections
from shared.logs import get_logger
from shared.services.push import CLAIM_RETENTION, ClaimEnd

if TYPE_CHECKING:
    from google.cloud import firestore

log = get_logger(__name__)

SENT_STATE = "sent"


class FirestoreClaimStore:
    """Claims are created with create-if-absent preconditions: the at-most-once primitive."""

    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def _ref(self, job: PushJob, device_id: str) -> firestore.DocumentReference:
        return self._db.collection(Collections.PUSH_CLAIMS).document(f"{job.job_id}:{device_id}")

    @staticmethod
    def _record(job: PushJob, device_id: str, now: datetime) -> dict[str, Any]:
        return {
            "uid": job.uid,
            "job_id": job.job_id,
            "device_id": device_id,
            "state": SENT_STATE,
            "created_at": now,
            "expires_at": now + CLAIM_RETENTION,
        }

    def claim(self, job: PushJob, device_ids: Sequence[str], now: datetime) -> list[str]:
        """Create the records in one atomic batch (one write each); when one exists already
        (a redelivery or a concurrent delivery), the batch writes nothing and each device is
        tried on its own."""
        from google.api_core.exceptions import AlreadyExists

        if len(device_ids) > 1:
            batch = self._db.batch()
            for device_id in device_ids:
                batch.create(self._ref(job, device_id), self._record(job, device_id, now))
            try:
                batch.commit()
                return list(device_ids)
            except AlreadyExists:
                pass
        ours = []
        for device_id in device_ids:
            try:
                self._ref(job, device_id).create(self._record(job, device_id, now))
                ours.append(device_id)
            except AlreadyExists:
                continue
        return ours

    def settle(self, job: PushJob, ends: Mapping[str, ClaimEnd | None], now: datetime) -> None:
        """Correct the records in one batch; None deletes (releases) one."""
        batch = self._db.batch()
        for device_id, end in ends.items():
            ref = self._ref(job, device_id)
            if end is None:
                batch.delete(ref)
            else:
                batch.update(ref, {"state": end, "settled_at": now})
        batch.commit()


class FirestoreFeedItems:
    """Reads ``users/{uid}/activity/{item_id}``."""

    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def item(self, uid: str, item_id: str) -> ActivityItem | None:
        """The feed item, or None when it is gone (erased, expired) or unreadable."""
        snapshot = (
            self._db.collection(Collections.USERS)
            .document(uid)
            .collection(Collections.ACTIVITY)
            .document(item_id)
            .get()
        )
        if not snapshot.exists:
            return None
        try:
            return ActivityItem.model_validate({"id": item_id, **(snapshot.to_dict() or {})})
        except ValidationError:
            log.error("unreadable feed item", extra={"alert": "feed_item_invalid"})
            return None
