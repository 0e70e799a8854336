"""Firestore adapter for user records (``users/{uid}``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.firestore import Collections
from shared.services.account import GoogleLink

if TYPE_CHECKING:
    from google.cloud import firestore


class FirestoreUserRecords:
    """Reads user documents; one document per Firebase uid."""

    def __init__(self, client: firestore.Client) -> None:
        self._client = client

    def google_link(self, uid: str) -> GoogleLink | None:
        """The stored link state, or None when the user has no record yet."""
        snapshot = self._client.collection(Collections.USERS).document(uid).get()
        if not snapshot.exists:
            return None
        data = snapshot.to_dict() or {}
        google = data.get("google") or {}
        return GoogleLink(
            status=google.get("status", "not_linked"), scopes=list(google.get("scopes", []))
        )
