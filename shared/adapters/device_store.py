"""Firestore adapter of the device port.

Layout: ``users/{uid}/devices/{device_id}`` (the device with its FCM token) and
``device_tokens/{sha256(token)}`` (``uid``, ``device_id``: who holds a token). Both change
together in one transaction, so a token is held by one device only. A token is bound to an
app install, not to a person: when another account registers it (a different user signed in
on the same phone), it moves there and stops reaching the previous account.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared import doc_ids
from shared.firestore import Collections, where
from shared.services.devices import Device, token_hash

if TYPE_CHECKING:
    from google.cloud import firestore


class FirestoreDeviceStore:
    """Each public method is one Firestore transaction or query."""

    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def _device(self, uid: str, device_id: str) -> firestore.DocumentReference:
        users = self._db.collection(Collections.USERS)
        device_id = doc_ids.require(device_id, "device_id")
        return users.document(uid).collection(Collections.DEVICES).document(device_id)

    def _index(self, hashed: str) -> firestore.DocumentReference:
        return self._db.collection(Collections.DEVICE_TOKENS).document(hashed)

    def upsert(self, uid: str, device: Device) -> tuple[Device, bool]:
        """Store the device, replacing its old token and taking the token from any holder."""
        from google.cloud import firestore

        device_ref = self._device(uid, device.device_id)
        new_hash = device.token_hash
        index_ref = self._index(new_hash)

        @firestore.transactional
        def upsert(transaction: firestore.Transaction) -> tuple[Device, bool]:
            # Every read comes before the first write (a Firestore transaction rule).
            current = _data(device_ref.get(transaction=transaction))
            holder = _data(index_ref.get(transaction=transaction))
            old_hash = current.get("token_hash") if current else None
            old_index = (
                _data(self._index(old_hash).get(transaction=transaction))
                if old_hash and old_hash != new_hash
                else None
            )
            holder_ref = None
            if holder and (holder.get("uid"), holder.get("device_id")) != (uid, device.device_id):
                holder_ref = self._device(holder["uid"], holder["device_id"])
                held = _data(holder_ref.get(transaction=transaction))
                if not held or held.get("token_hash") != new_hash:
                    holder_ref = None
            if holder_ref is not None:
                transaction.delete(holder_ref)
            if old_hash and old_index and _points_to(old_index, uid, device.device_id):
                transaction.delete(self._index(old_hash))
            created_at = current.get("created_at", device.created_at) if current else None
            stored = Device(
                device_id=device.device_id,
                token=device.token,
                platform=device.platform,
                os_version=device.os_version,
                app_version=device.app_version,
                model=device.model,
                locale=device.locale,
                created_at=created_at or device.created_at,
                last_seen_at=device.last_seen_at,
                advertising_id=device.advertising_id,
            )
            transaction.set(device_ref, _record(stored))
            transaction.set(
                index_ref,
                {"uid": uid, "device_id": device.device_id, "updated_at": device.last_seen_at},
            )
            return stored, current is None

        return upsert(self._db.transaction())

    def of_user(self, uid: str) -> list[Device]:
        """The user's devices."""
        users = self._db.collection(Collections.USERS)
        devices = users.document(uid).collection(Collections.DEVICES)
        return [_device(doc.id, doc.to_dict() or {}) for doc in devices.stream()]

    def delete(
        self,
        uid: str,
        device_id: str,
        *,
        token_hash: str | None = None,
        seen_before: datetime | None = None,
    ) -> bool:
        """Delete the device and its token index entry, if the conditions still hold."""
        from google.cloud import firestore

        device_ref = self._device(uid, device_id)

        @firestore.transactional
        def delete(transaction: firestore.Transaction) -> bool:
            current = _data(device_ref.get(transaction=transaction))
            if not current:
                return False
            held_hash = current.get("token_hash")
            if token_hash is not None and held_hash != token_hash:
                return False  # the app registered a new token meanwhile
            if seen_before is not None and current["last_seen_at"] >= seen_before:
                return False  # the app came back meanwhile
            index = (
                _data(self._index(held_hash).get(transaction=transaction)) if held_hash else None
            )
            transaction.delete(device_ref)
            if held_hash and index and _points_to(index, uid, device_id):
                transaction.delete(self._index(held_hash))
            return True

        return delete(self._db.transaction())

    def stale(self, cutoff: datetime, limit: int) -> list[tuple[str, str]]:
        """(uid, device id) of devices of any user last seen before ``cutoff``."""
        query = (
            self._db.collection_group(Collections.DEVICES)
            .where(filter=where("last_seen_at", "<", cutoff))
            .order_by("last_seen_at")
            .limit(limit)
        )
        found = []
        for snapshot in query.stream():
            user = snapshot.reference.parent.parent
            if user is not None:
                found.append((user.id, snapshot.id))
        return found


def _data(snapshot: Any) -> dict[str, Any] | None:
    return (snapshot.to_dict() or {}) if snapshot.exists else None


def _points_to(index: dict[str, Any], uid: str, device_id: str) -> bool:
    return index.get("uid") == uid and index.get("device_id") == device_id


def _record(device: Device) -> dict[str, Any]:
    record: dict[str, Any] = {
        "token": device.token,
        "token_hash": token_hash(device.token),
        "platform": device.platform,
        "os_version": device.os_version,
        "app_version": device.app_version,
        "model": device.model,
        "locale": device.locale,
        "created_at": device.created_at,
        "last_seen_at": device.last_seen_at,
    }
    if device.advertising_id is not None:
        record["advertising_id"] = device.advertising_id
    return record


def _device(device_id: str, data: dict[str, Any]) -> Device:
    return Device(
        device_id=device_id,
        token=data["token"],
        platform=data["platform"],
        os_version=data["os_version"],
        app_version=data["app_version"],
        model=data["model"],
        locale=data["locale"],
        created_at=data["created_at"],
        last_seen_at=data["last_seen_at"],
        advertising_id=data.get("advertising_id"),
    )
