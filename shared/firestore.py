"""Firestore access: one lazily built client and the collection names in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from google.cloud import firestore
    from google.cloud.firestore_v1.base_query import FieldFilter


class Collections:
    """Top-level collection names; every per-user document is keyed by the Firebase uid."""

    USERS = "users"
    OAUTH_STATES = "oauth_states"
    # Google grants obtained by the callback, waiting for the initiating app to complete.
    LINK_COMPLETIONS = "link_completions"
    GOOGLE_ACCOUNTS = "google_accounts"

    PUSH_CLAIMS = "push_claims"
    # FCM token index: sha256(token) -> the one (uid, device id) holding that token.
    DEVICE_TOKENS = "device_tokens"
    CHANNELS = "channels"

    # Subcollections of users/{uid}.
    SECRETS = "secrets"
    DEVICES = "devices"
    ACTIVITY = "activity"
    CURSORS = "cursors"
    OUTBOX = "outbox"
    GMAIL_ADDRESSES = "gmail_addresses"
    # Subcollection of users/{uid}/cursors/{calendar}: one record per calendar event, with
    # the marks of the user's own Calendar writes (shared/services/own_changes).
    EVENT_RECORDS = "events"

    # Top-level collections whose documents carry the owner's ``uid`` field; unlink and
    # erase delete them by query, so every new such collection must be listed here.
    OWNED_BY_UID = (
        OAUTH_STATES,
        LINK_COMPLETIONS,
        GOOGLE_ACCOUNTS,
        PUSH_CLAIMS,
        CHANNELS,
        GMAIL_ADDRESSES,
        DEVICE_TOKENS,
    )


def make_client(project_id: str) -> firestore.Client:
    """A Firestore client; honours FIRESTORE_EMULATOR_HOST like every Google client."""
    from google.cloud import firestore

    return firestore.Client(project=project_id)


def where(field: str, op: str, value: object) -> FieldFilter:
    """A query filter; imported lazily so modules that only name collections stay light."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    return FieldFilter(field, op, value)
