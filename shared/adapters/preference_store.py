"""Firestore adapter of the preference port: field ``preferences`` of ``users/{uid}``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from shared.firestore import Collections
from shared.logs import get_logger
from shared.services.preferences import Preferences

if TYPE_CHECKING:
    from google.cloud import firestore

log = get_logger(__name__)

_FIELD = "preferences"


class FirestorePreferenceStore:
    """Reads and replaces the ``preferences`` map of a user document."""

    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def get(self, uid: str) -> Preferences | None:
        """The stored preferences, or None when none (or none readable) are stored."""
        snapshot = self._db.collection(Collections.USERS).document(uid).get([_FIELD])
        stored = (snapshot.to_dict() or {}).get(_FIELD) if snapshot.exists else None
        if not stored:
            return None
        try:
            return Preferences.model_validate(stored)
        except ValidationError:
            # Written by an older version: defaults beat a failing push.
            log.warning("stored preferences unreadable; using defaults")
            return None

    def put(self, uid: str, preferences: Preferences) -> None:
        """Replace the map (every key is written), leaving the rest of the document alone."""
        self._db.collection(Collections.USERS).document(uid).set(
            {_FIELD: preferences.model_dump(mode="json")}, merge=True
        )
