"""Firestore access: one lazily built client and the collection names in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from google.cloud import firestore


class Collections:
    """Top-level collection names; every per-user document is keyed by the Firebase uid."""

    USERS = "users"


def make_client(project_id: str) -> firestore.Client:
    """A Firestore client; honours FIRESTORE_EMULATOR_HOST like every Google client."""
    from google.cloud import firestore

    return firestore.Client(project=project_id)
