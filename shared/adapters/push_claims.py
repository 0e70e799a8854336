"""Firestore adapters for push dispatch: the per-(job, device) claims and the feed item read.

``push_claims/{job_id}:{device_id}``: ``uid`` (erase deletes by it), ``state`` (``claimed``,
``sending``, then ``sent``, ``dropped``, ``failed`` or ``unknown``), ``lease_until`` (a
``claimed`` claim past it was left by a sender that died before sending), ``expires_at``
(Firestore TTL). See ``shared.services.push`` for the at-most-once contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from shared.activity import ActivityItem, PushJob
from shared.firestore import Collections
from shared.logs import get_logger
from shared.services.push import (
    CLAIM_LEASE,
    CLAIM_RETENTION,
    CLAIMED_STATE,
    SENDING_STATE,
    UNKNOWN_STATE,
    Claim,
    ClaimEnd,
    existing_claim,
)

if TYPE_CHECKING:
    from google.cloud import firestore

log = get_logger(__name__)


class FirestoreClaimStore:
    """Claims are created with ``create()`` (fails if present): the exactly-once primitive."""

    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def _ref(self, job: PushJob, device_id: str) -> firestore.DocumentReference:
        return self._db.collection(Collections.PUSH_CLAIMS).document(f"{job.job_id}:{device_id}")

    def claim(self, job: PushJob, device_id: str, now: datetime) -> Claim:
        """Claim (job, device) for sending, or say why not."""
        from google.api_core.exceptions import AlreadyExists

        ref = self._ref(job, device_id)
        try:
            ref.create(
                {
                    "uid": job.uid,
                    "job_id": job.job_id,
                    "device_id": device_id,
                    "state": CLAIMED_STATE,
                    "lease_until": now + CLAIM_LEASE,
                    "created_at": now,
                    "expires_at": now + CLAIM_RETENTION,
                }
            )
            return Claim.CLAIMED
        except AlreadyExists:
            return self._take_over(ref, now)

    def _take_over(self, ref: firestore.DocumentReference, now: datetime) -> Claim:
        """A claim exists: settled, in flight, or abandoned by a crashed sender."""
        from google.cloud import firestore

        @firestore.transactional
        def take_over(transaction: firestore.Transaction) -> Claim:
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists:
                # Released between our create and this read: a later delivery retries.
                return Claim.BUSY
            data: dict[str, Any] = snapshot.to_dict() or {}
            lease_until = data.get("lease_until")
            claim = existing_claim(data.get("state"), lease_until, now)
            if claim is Claim.CLAIMED:
                transaction.update(ref, {"lease_until": now + CLAIM_LEASE, "taken_over_at": now})
            elif claim is Claim.IN_DOUBT and lease_until is not None and lease_until <= now:
                # Its sender crashed mid-send: close it so it reads as what it is.
                transaction.update(ref, {"state": UNKNOWN_STATE, "settled_at": now})
            return claim

        claim: Claim = take_over(self._db.transaction())
        if claim is Claim.CLAIMED:
            log.warning("took over a push claim abandoned before sending")
        elif claim is Claim.IN_DOUBT:
            log.warning("push claim left sending: not resent (at most once)")
        return claim

    def sending(self, job: PushJob, device_ids: Sequence[str], now: datetime) -> None:
        """Mark the claims ``sending`` in one batch, before the send request leaves."""
        batch = self._db.batch()
        for device_id in device_ids:
            batch.update(
                self._ref(job, device_id),
                {"state": SENDING_STATE, "sending_at": now, "lease_until": now + CLAIM_LEASE},
            )
        batch.commit()

    def settle(self, job: PushJob, ends: dict[str, ClaimEnd | None], now: datetime) -> None:
        """Record the end of each claim in one batch; None deletes (releases) it."""
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
