"""Firestore adapter of the linking ports.

Layout: ``oauth_states/{sha256(state or nonce)}`` (pending links, TTL on ``expires_at``),
``link_completions/{sha256(completion code)}`` (sealed grants waiting for the app; revoked
and deleted by the maintenance sweep when not completed in time),
``users/{uid}`` (``google``: status, sub, scopes), ``users/{uid}/secrets/google`` (sealed
tokens only) and ``google_accounts/{sub}`` (which uid a Google account is linked to).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.firestore import Collections, where
from shared.services.linking import (
    Grant,
    LinkResult,
    LinkStatusView,
    PendingCompletion,
    PendingLink,
    features_of,
)

if TYPE_CHECKING:
    from google.cloud import firestore

_GOOGLE_SECRET = "google"  # noqa: S105 - a document id, not a secret


class FirestoreLinkStore:
    """Each public method is one Firestore transaction or batch."""

    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def _user(self, uid: str) -> firestore.DocumentReference:
        return self._db.collection(Collections.USERS).document(uid)

    def _secret(self, uid: str) -> firestore.DocumentReference:
        return self._user(uid).collection(Collections.SECRETS).document(_GOOGLE_SECRET)

    def save_pending(self, state_hash: str, pending: PendingLink) -> None:
        """Store a new pending link (create: a colliding state hash is an error)."""
        self._db.collection(Collections.OAUTH_STATES).document(state_hash).create(
            {
                "uid": pending.uid,
                "sealed_verifier": pending.sealed_verifier,
                "expires_at": pending.expires_at,
                "consumed": False,
                "kind": pending.kind,
            }
        )

    def consume_pending(self, state_hash: str) -> PendingLink | None:
        """Mark a pending link used and return it as it was (single use)."""
        from google.cloud import firestore

        ref = self._db.collection(Collections.OAUTH_STATES).document(state_hash)

        @firestore.transactional
        def consume(transaction: firestore.Transaction) -> PendingLink | None:
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists:
                return None
            data = snapshot.to_dict() or {}
            if not data.get("consumed"):
                transaction.update(ref, {"consumed": True})
            return PendingLink(
                uid=data["uid"],
                sealed_verifier=data["sealed_verifier"],
                expires_at=data["expires_at"],
                consumed=bool(data.get("consumed")),
                kind=str(data.get("kind") or "web"),
            )

        return consume(self._db.transaction())

    def _completion(self, code_hash: str) -> firestore.DocumentReference:
        return self._db.collection(Collections.LINK_COMPLETIONS).document(code_hash)

    def save_completion(self, code_hash: str, completion: PendingCompletion) -> None:
        """Keep a grant for the app to complete (create: a colliding hash is an error)."""
        self._completion(code_hash).create(
            {
                "uid": completion.uid,
                "sub": completion.sub,
                "scopes": completion.scopes,
                "refresh_token": completion.sealed_refresh,
                "access_token": completion.sealed_access,
                "access_expires_at": completion.access_expires_at,
                "expires_at": completion.expires_at,
            }
        )

    def take_completion(self, code_hash: str) -> PendingCompletion | None:
        """Delete a pending completion and return it as it was (single use)."""
        from google.cloud import firestore

        ref = self._completion(code_hash)

        @firestore.transactional
        def take(transaction: firestore.Transaction) -> PendingCompletion | None:
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists:
                return None
            data = snapshot.to_dict() or {}
            transaction.delete(ref)
            return PendingCompletion(
                uid=data["uid"],
                sub=data["sub"],
                scopes=list(data.get("scopes") or []),
                sealed_refresh=data.get("refresh_token"),
                sealed_access=data["access_token"],
                access_expires_at=data["access_expires_at"],
                expires_at=data["expires_at"],
            )

        return take(self._db.transaction())

    def expired_completions(self, now: datetime, limit: int) -> list[str]:
        """Hashes of pending completions whose time ran out."""
        query = self._db.collection(Collections.LINK_COMPLETIONS).where(
            filter=where("expires_at", "<=", now)
        )
        return [snapshot.id for snapshot in query.limit(limit).stream()]

    def is_linked_account(self, sub: str) -> bool:
        """True when the Google account backs a stored link."""
        return bool(self._db.collection(Collections.GOOGLE_ACCOUNTS).document(sub).get().exists)

    def has_refresh_token(self, uid: str) -> bool:
        """True when a sealed refresh token is stored for the user."""
        snapshot = self._secret(uid).get()
        return snapshot.exists and bool((snapshot.to_dict() or {}).get("refresh_token"))

    def save_link(
        self,
        uid: str,
        grant: Grant,
        sealed_refresh: str | None,
        sealed_access: str,
        now: datetime,
    ) -> LinkResult:
        """Record a grant: one Google account per user and one user per Google account."""
        from google.cloud import firestore

        account_ref = self._db.collection(Collections.GOOGLE_ACCOUNTS).document(grant.sub)
        user_ref, secret_ref = self._user(uid), self._secret(uid)

        @firestore.transactional
        def save(transaction: firestore.Transaction) -> LinkResult:
            account = account_ref.get(transaction=transaction)
            user = user_ref.get(transaction=transaction)
            secret = secret_ref.get(transaction=transaction)
            if account.exists and (account.to_dict() or {}).get("uid") != uid:
                return LinkResult.ACCOUNT_IN_USE
            google = (user.to_dict() or {}).get("google") or {} if user.exists else {}
            stored = (secret.to_dict() or {}) if secret.exists else {}
            same_account = google.get("sub") == grant.sub
            refresh = sealed_refresh or (stored.get("refresh_token") if same_account else None)
            if refresh is None:
                return LinkResult.NO_REFRESH_TOKEN
            if google.get("sub") and not same_account:
                previous = self._db.collection(Collections.GOOGLE_ACCOUNTS).document(google["sub"])
                transaction.delete(previous)
            transaction.set(account_ref, {"uid": uid, "linked_at": now})
            transaction.set(
                user_ref,
                {
                    "google": {
                        "status": "linked",
                        "sub": grant.sub,
                        "scopes": grant.scopes,
                        "linked_at": google.get("linked_at") if same_account else now,
                        "updated_at": now,
                    }
                },
                merge=True,
            )
            transaction.set(
                secret_ref,
                {
                    "refresh_token": refresh,
                    "access_token": sealed_access,
                    "access_expires_at": grant.access_expires_at,
                    # The granted scopes again, beside the tokens: a notification then reads
                    # one document for its credentials (shared.adapters.google_credentials).
                    "scopes": grant.scopes,
                    "updated_at": now,
                },
            )
            return LinkResult.LINKED

        return save(self._db.transaction())

    def link_status(self, uid: str) -> LinkStatusView:
        """The stored link state."""
        snapshot = self._user(uid).get()
        google = (snapshot.to_dict() or {}).get("google") or {} if snapshot.exists else {}
        status = google.get("status") or "not_linked"
        scopes = list(google.get("scopes") or []) if status != "not_linked" else []
        return LinkStatusView(
            status=status,
            scopes=scopes,
            features=features_of(scopes) if status == "linked" else [],
            linked_at=google.get("linked_at"),
        )

    def sealed_refresh_token(self, uid: str) -> str | None:
        """The sealed refresh token, if one is stored."""
        snapshot = self._secret(uid).get()
        return (snapshot.to_dict() or {}).get("refresh_token") if snapshot.exists else None

    def delete_google_data(self, uid: str) -> None:
        """Delete everything derived from the Google link; keep a ``not_linked`` profile."""
        self._delete_owned(uid)
        user_ref = self._user(uid)
        for collection in user_ref.collections():
            self._db.recursive_delete(collection)
        if user_ref.get().exists:
            user_ref.update({"google": {"status": "not_linked"}})

    def delete_everything(self, uid: str) -> None:
        """Delete the user's profile and every record that belongs to them."""
        self._delete_owned(uid)
        self._db.recursive_delete(self._user(uid))

    def _delete_owned(self, uid: str) -> None:
        for name in Collections.OWNED_BY_UID:
            query = self._db.collection(name).where(filter=where("uid", "==", uid))
            for snapshot in query.stream():
                self._db.recursive_delete(snapshot.reference)

    def export(self, uid: str) -> dict[str, object]:
        """The user's profile and sub-collections, never the sealed secrets."""
        user_ref = self._user(uid)
        snapshot = user_ref.get()
        profile = _jsonable(snapshot.to_dict() or {}) if snapshot.exists else {}
        collections: dict[str, list[dict[str, Any]]] = {}
        for collection in user_ref.collections():
            if collection.id == Collections.SECRETS:
                continue
            omit = _EXPORT_OMIT.get(collection.id, frozenset())
            collections[collection.id] = [
                {"id": doc.id, **_jsonable(_without(doc.to_dict() or {}, omit))}
                for doc in collection.stream()
            ]
        return {"uid": uid, "profile": profile, "collections": collections}


# Credentials-like values never leave in an export: FCM tokens and Google sync cursors.
_EXPORT_OMIT: dict[str, frozenset[str]] = {
    Collections.DEVICES: frozenset({"token"}),
    Collections.CURSORS: frozenset({"cursor", "index", "lease_owner", "lease_delivery"}),
}


def _without(data: dict[str, Any], omit: frozenset[str]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in omit}


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, dict):
            return {key: convert(item) for key, item in value.items()}
        if isinstance(value, list):
            return [convert(item) for item in value]
        return value

    return {key: convert(value) for key, value in data.items()}
