"""Linking a user's Google account: start, complete (web or native), status, unlink.

The service holds the rules; ports below hide Firestore, Google's OAuth server and the
vault. No Google call is ever made inside a Firestore transaction: the store's methods are
each one transaction, and the service calls Google between them.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from shared.errors import AppError, ErrorCode
from shared.logs import get_logger
from shared.scopes import ALL_SCOPES, Feature, granted_features, normalize

log = get_logger(__name__)


class LinkResult(StrEnum):
    """Result codes the callback page and the app deep link carry."""

    LINKED = "linked"
    ACCESS_DENIED = "access_denied"
    INVALID_STATE = "invalid_state"
    EXPIRED_STATE = "expired_state"
    EXCHANGE_FAILED = "exchange_failed"
    NO_REFRESH_TOKEN = "no_refresh_token"  # noqa: S105 - a result code
    ACCOUNT_IN_USE = "account_in_use"


@dataclass(frozen=True)
class PendingLink:
    """A started link attempt, stored under the hash of its state."""

    uid: str
    sealed_verifier: str
    expires_at: datetime
    consumed: bool


@dataclass(frozen=True)
class Grant:
    """What Google's token endpoint returned, after the ID token was verified."""

    sub: str
    scopes: list[str]
    refresh_token: str | None
    access_token: str
    access_expires_at: datetime


class FeatureWatch(BaseModel):
    """How Google's changes of one feature reach the app: ``active`` (a live watch),
    ``repairing`` (no live watch; being started again with backoff: alerts are delayed and
    come from periodic syncs) or ``failed`` (repairs keep failing)."""

    model_config = ConfigDict(extra="forbid")

    feature: Feature
    status: Literal["active", "repairing", "failed"]
    last_notification_at: datetime | None = None
    last_sync_at: datetime | None = None


class LinkStatusView(BaseModel):
    """The app's view of the Google link (``watches`` only in ``GET /v1/google``)."""

    model_config = ConfigDict(extra="forbid")

    status: str
    scopes: list[str] = []
    features: list[Feature] = []
    linked_at: datetime | None = None
    watches: list[FeatureWatch] = []


class StartedLink(BaseModel):
    """Response of starting a link: open ``authorization_url`` in a browser."""

    model_config = ConfigDict(extra="forbid")

    authorization_url: str
    expires_at: datetime


class Vault(Protocol):
    """Port: seals secrets bound to a uid."""

    def seal(self, uid: str, plaintext: str) -> str: ...
    def open(self, uid: str, sealed: str) -> str: ...


class OAuthServer(Protocol):
    """Port: Google's OAuth endpoints."""

    def authorization_url(self, state: str, verifier: str, *, force_consent: bool) -> str: ...
    def exchange(self, code: str, verifier: str | None, *, native: bool) -> Grant: ...
    def revoke(self, token: str) -> None: ...


class LinkStore(Protocol):
    """Port: pending links, links and sealed credentials (each call one transaction)."""

    def save_pending(self, state_hash: str, pending: PendingLink) -> None: ...
    def consume_pending(self, state_hash: str) -> PendingLink | None: ...
    def has_refresh_token(self, uid: str) -> bool: ...
    def save_link(
        self,
        uid: str,
        grant: Grant,
        sealed_refresh: str | None,
        sealed_access: str,
        now: datetime,
    ) -> LinkResult: ...
    def link_status(self, uid: str) -> LinkStatusView: ...
    def sealed_refresh_token(self, uid: str) -> str | None: ...
    def delete_google_data(self, uid: str) -> None: ...
    def delete_everything(self, uid: str) -> None: ...
    def export(self, uid: str) -> dict[str, object]: ...


class Watches(Protocol):
    """Port: starts and stops a user's Google channels and watches (failures logged)."""

    def start_all(self, uid: str, features: list[Feature]) -> list[str]: ...
    def stop_all(self, uid: str) -> None: ...
    def health(self, uid: str, features: list[Feature]) -> list[dict[str, Any]]: ...


def state_hash(state: str) -> str:
    """Document id of a pending link; the state itself is never stored."""
    return hashlib.sha256(state.encode()).hexdigest()


class LinkingService:
    """Use cases of linking and unlinking a Google account."""

    def __init__(
        self,
        store: LinkStore,
        oauth: OAuthServer,
        vault: Vault,
        watches: Watches,
        state_ttl: timedelta,
    ) -> None:
        self._store = store
        self._oauth = oauth
        self._vault = vault
        self._watches = watches
        self._state_ttl = state_ttl

    def start(self, uid: str, now: datetime | None = None) -> StartedLink:
        """A consent URL with a fresh single-use state and PKCE verifier bound to ``uid``."""
        now = now or datetime.now(UTC)
        state = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)
        expires_at = now + self._state_ttl
        pending = PendingLink(uid, self._vault.seal(uid, verifier), expires_at, consumed=False)
        self._store.save_pending(state_hash(state), pending)
        # Without a live refresh token, force the consent screen so Google issues one.
        force = not self._store.has_refresh_token(uid)
        url = self._oauth.authorization_url(state, verifier, force_consent=force)
        return StartedLink(authorization_url=url, expires_at=expires_at)

    def complete(
        self,
        state: str | None,
        code: str | None,
        error: str | None,
        now: datetime | None = None,
    ) -> LinkResult:
        """Finish a web link from the OAuth callback's query parameters."""
        now = now or datetime.now(UTC)
        if not state or len(state) > 200:
            return LinkResult.INVALID_STATE
        pending = self._store.consume_pending(state_hash(state))
        if pending is None or pending.consumed:
            log.warning("oauth callback with unknown or reused state")
            return LinkResult.INVALID_STATE
        if pending.expires_at <= now:
            return LinkResult.EXPIRED_STATE
        if error:
            log.info("user declined consent", extra={"oauth_error": error[:40]})
            return LinkResult.ACCESS_DENIED
        if not code or len(code) > 2048:
            return LinkResult.INVALID_STATE
        try:
            verifier = self._vault.open(pending.uid, pending.sealed_verifier)
            grant = self._oauth.exchange(code, verifier, native=False)
        except AppError as exc:
            log.warning("code exchange failed", extra={"error_code": exc.code.value})
            return LinkResult.EXCHANGE_FAILED
        return self._store_grant(pending.uid, grant, now)

    def exchange_native(self, uid: str, server_auth_code: str) -> LinkStatusView:
        """Link from a native Google Sign-In server auth code posted by the app."""
        grant = self._oauth.exchange(server_auth_code, None, native=True)
        result = self._store_grant(uid, grant, datetime.now(UTC))
        if result is LinkResult.ACCOUNT_IN_USE:
            raise AppError(
                ErrorCode.CONFLICT, "This Google account is linked to another user.", field="code"
            )
        if result is LinkResult.NO_REFRESH_TOKEN:
            raise AppError(
                ErrorCode.INVALID_REQUEST,
                "Google returned no refresh token; request offline access and try again.",
                field="server_auth_code",
            )
        return self._store.link_status(uid)

    def _store_grant(self, uid: str, grant: Grant, now: datetime) -> LinkResult:
        sealed_refresh = self._vault.seal(uid, grant.refresh_token) if grant.refresh_token else None
        sealed_access = self._vault.seal(uid, grant.access_token)
        result = self._store.save_link(uid, grant, sealed_refresh, sealed_access, now)
        if result is LinkResult.LINKED:
            log.info("google account linked", extra={"scope_count": len(grant.scopes)})
            # Outside the link transaction: Google calls. A re-link replaces old watches.
            self._watches.stop_all(uid)
            failed = self._watches.start_all(uid, features_of(grant.scopes))
            if failed:
                log.warning("some watches did not start", extra={"features": failed})
        else:
            log.warning("google link not stored", extra={"result": result.value})
        return result

    def status(self, uid: str) -> LinkStatusView:
        """The link state with the scopes actually granted and the features they enable."""
        return self._store.link_status(uid)

    def overview(self, uid: str) -> LinkStatusView:
        """The link state with, per feature, the health of its watch."""
        view = self._store.link_status(uid)
        if not view.features:
            return view
        watches = [FeatureWatch(**watch) for watch in self._watches.health(uid, view.features)]
        return view.model_copy(update={"watches": watches})

    def unlink(self, uid: str) -> None:
        """Stop watches, revoke the grant at Google, delete every Google-derived item."""
        self._watches.stop_all(uid)
        self._revoke(uid)
        self._store.delete_google_data(uid)

    def erase(self, uid: str) -> None:
        """Unlink, then delete the user's profile and every remaining record."""
        self._watches.stop_all(uid)
        self._revoke(uid)
        self._store.delete_everything(uid)

    def export(self, uid: str) -> dict[str, object]:
        """Everything stored about the user, without credentials."""
        return self._store.export(uid)

    def _revoke(self, uid: str) -> None:
        sealed = self._store.sealed_refresh_token(uid)
        if sealed is None:
            return
        try:
            self._oauth.revoke(self._vault.open(uid, sealed))
        except Exception:  # revocation is best effort; deletion must go on
            log.warning("token revocation failed; deleting the stored grant anyway")


def requested_scopes() -> list[str]:
    """The scopes every link asks for (the user may untick some)."""
    return list(ALL_SCOPES)


def features_of(scopes: list[str]) -> list[Feature]:
    """Features the granted scopes enable."""
    return granted_features(normalize(scopes))
