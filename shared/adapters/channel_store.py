"""Firestore adapter for push channels (``channels/{channel id}``) and Gmail routing
(``gmail_addresses/{sha256(address)}``). Only a hash of each channel secret is stored."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from shared import doc_ids
from shared.firestore import Collections, where
from shared.ports.watches import Channel

if TYPE_CHECKING:
    from google.cloud import firestore


def address_key(address: str) -> str:
    """Document id of a Gmail address: its hash, so addresses are not stored in clear."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()


class FirestoreChannelStore:
    """Channels and Gmail routing."""

    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def save(self, channel: Channel) -> None:
        """Store a new channel (before the old one is stopped on renewal)."""
        self._db.collection(Collections.CHANNELS).document(channel.id).set(
            {
                "uid": channel.uid,
                "source": channel.source,
                "resource_id": channel.resource_id,
                "secret_hash": channel.secret_hash,
                "expires_at": channel.expires_at,
                "calendar_id": channel.calendar_id,
            }
        )

    def get(self, channel_id: str) -> Channel | None:
        """The channel, or None when unknown, deleted or not a possible document id."""
        if not doc_ids.is_valid(channel_id):
            return None
        snapshot = self._db.collection(Collections.CHANNELS).document(channel_id).get()
        if not snapshot.exists:
            return None
        return _channel(snapshot.id, snapshot.to_dict() or {})

    def delete(self, channel_id: str) -> None:
        """Forget a stopped channel: its notifications are rejected from now on."""
        if not doc_ids.is_valid(channel_id):
            return
        self._db.collection(Collections.CHANNELS).document(channel_id).delete()

    def of_user(self, uid: str) -> list[Channel]:
        """Every channel of one user."""
        query = self._db.collection(Collections.CHANNELS).where(filter=where("uid", "==", uid))
        return [_channel(doc.id, doc.to_dict() or {}) for doc in query.stream()]

    def route_gmail(self, address: str, uid: str) -> None:
        """Gmail notifications for ``address`` belong to ``uid``."""
        self._db.collection(Collections.GMAIL_ADDRESSES).document(address_key(address)).set(
            {"uid": uid}
        )

    def gmail_owner(self, address: str) -> str | None:
        """The uid a Gmail address is routed to."""
        snapshot = (
            self._db.collection(Collections.GMAIL_ADDRESSES).document(address_key(address)).get()
        )
        return (snapshot.to_dict() or {}).get("uid") if snapshot.exists else None


def _channel(channel_id: str, data: dict[str, Any]) -> Channel:
    return Channel(
        id=channel_id,
        uid=str(data.get("uid", "")),
        source=str(data.get("source", "")),
        resource_id=str(data.get("resource_id", "")),
        secret_hash=str(data.get("secret_hash", "")),
        expires_at=data["expires_at"],
        calendar_id=str(data.get("calendar_id") or ""),
    )
