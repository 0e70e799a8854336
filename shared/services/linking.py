"""Linking a user's Google account: start, complete (web or native), status, unlink.

A link completes only in a request that carries the Firebase ID token of the user who
started it (no account-linking CSRF: a consent URL forwarded to someone else links
nothing):

- web: the OAuth callback exchanges the code (PKCE) but stores no link; it keeps the
  grant, sealed, under a one-time completion code that lives ``COMPLETION_TTL`` and hands
  the code to the app through ``APP_DEEP_LINK``. The app finishes with
  ``POST /v1/google/link/complete``; only when its caller is the user who started is the
  link stored and watches started.
- native: the app asks for a nonce with ``POST /v1/google/link``, passes it to Google
  Sign-In, and posts the server auth code with it; the nonce must be the caller's own and
  be the one in the ID token Google returns with the code.

A grant completed by anyone else, or never completed, is revoked at Google (unless it
backs a live link of this Google account, which revoking would break).

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


# How long the app has to complete a link after the user approved at Google.
COMPLETION_TTL = timedelta(minutes=5)

_NATIVE, _WEB = "native", "web"


class LinkResult(StrEnum):
    """Result codes the callback page and the app deep link carry."""

    APPROVED = "approved"  # the callback's success: the app completes with its code
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
    kind: str = _WEB  # "web" (keyed by the state) or "native" (keyed by the nonce)


@dataclass(frozen=True)
class PendingCompletion:
    """A grant the callback obtained, sealed for ``uid``, waiting for that user's app."""

    uid: str
    sub: str
    scopes: list[str]
    sealed_refresh: str | None
    sealed_access: str
    access_expires_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class CallbackOutcome:
    """What the callback shows: the result, and for ``APPROVED`` the completion code."""

    result: LinkResult
    completion_code: str | None = None


@dataclass(frozen=True)
class Grant:
    """What Google's token endpoint returned, after the ID token was verified."""

    sub: str
    scopes: list[str]
    refresh_token: str | None
    access_token: str
    access_expires_at: datetime
    nonce: str | None = None  # the ID token's nonce claim (native sign-in)


class FeatureWatch(BaseModel):
    """How Google's changes of one feature reach the app: ``active`` (a live watch),
    ``repairing`` (no live watch; being started again with backoff: alerts are delayed and
    come from periodic syncs) or ``failed`` (repairs keep failing)."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    feature: Feature
    status: Literal["active", "repairing", "failed"]
    last_notification_at: datetime | None = None
    last_sync_at: datetime | None = None


class LinkStatusView(BaseModel):
    """The app's view of the Google link (``watches`` only in ``GET /v1/google``)."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    status: str
    scopes: list[str] = []
    features: list[Feature] = []
    linked_at: datetime | None = None
    watches: list[FeatureWatch] = []


class StartedLink(BaseModel):
    """Response of starting a link: open ``authorization_url`` in a browser, or pass
    ``nonce`` to native Google Sign-In (either one completes; each is single use)."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    authorization_url: str
    nonce: str
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
    def save_completion(self, code_hash: str, completion: PendingCompletion) -> None: ...
    def take_completion(self, code_hash: str) -> PendingCompletion | None: ...
    def expired_completions(self, now: datetime, limit: int) -> list[str]: ...
    def is_linked_account(self, sub: str) -> bool: ...
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
        """A consent URL with a fresh single-use state and PKCE verifier bound to ``uid``,
        and a single-use nonce bound to ``uid`` for native sign-in."""
        now = now or datetime.now(UTC)
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)
        expires_at = now + self._state_ttl
        sealed = self._vault.seal(uid, verifier)
        self._store.save_pending(state_hash(state), PendingLink(uid, sealed, expires_at, False))
        native = PendingLink(uid, "", expires_at, consumed=False, kind=_NATIVE)
        self._store.save_pending(state_hash(nonce), native)
        # Without a live refresh token, force the consent screen so Google issues one.
        force = not self._store.has_refresh_token(uid)
        url = self._oauth.authorization_url(state, verifier, force_consent=force)
        return StartedLink(authorization_url=url, nonce=nonce, expires_at=expires_at)

    def complete(
        self,
        state: str | None,
        code: str | None,
        error: str | None,
        now: datetime | None = None,
    ) -> CallbackOutcome:
        """The OAuth callback: check the state, exchange the code, and keep the grant
        sealed under a fresh completion code for the app of the user who started."""
        now = now or datetime.now(UTC)
        if not state or len(state) > 200:
            return CallbackOutcome(LinkResult.INVALID_STATE)
        pending = self._store.consume_pending(state_hash(state))
        if pending is None or pending.consumed or pending.kind != _WEB:
            log.warning("oauth callback with unknown or reused state")
            return CallbackOutcome(LinkResult.INVALID_STATE)
        if pending.expires_at <= now:
            return CallbackOutcome(LinkResult.EXPIRED_STATE)
        if error:
            log.info("user declined consent", extra={"oauth_error": error[:40]})
            return CallbackOutcome(LinkResult.ACCESS_DENIED)
        if not code or len(code) > 2048:
            return CallbackOutcome(LinkResult.INVALID_STATE)
        try:
            verifier = self._vault.open(pending.uid, pending.sealed_verifier)
            grant = self._oauth.exchange(code, verifier, native=False)
        except AppError as exc:
            log.warning("code exchange failed", extra={"error_code": exc.code.value})
            return CallbackOutcome(LinkResult.EXCHANGE_FAILED)
        completion_code = secrets.token_urlsafe(32)
        uid = pending.uid
        completion = PendingCompletion(
            uid=uid,
            sub=grant.sub,
            scopes=grant.scopes,
            sealed_refresh=self._vault.seal(uid, grant.refresh_token)
            if grant.refresh_token
            else None,
            sealed_access=self._vault.seal(uid, grant.access_token),
            access_expires_at=grant.access_expires_at,
            expires_at=now + COMPLETION_TTL,
        )
        self._store.save_completion(state_hash(completion_code), completion)
        log.info("google grant waiting for the app to complete the link")
        return CallbackOutcome(LinkResult.APPROVED, completion_code)

    def finish(self, uid: str, completion_code: str, now: datetime | None = None) -> LinkStatusView:
        """``POST /v1/google/link/complete``: store the grant the callback kept, only for
        the user who started the link. 400 for an unknown, used or expired code; 403 (the
        grant is revoked) when another user presents it."""
        now = now or datetime.now(UTC)
        completion = self._store.take_completion(state_hash(completion_code))
        if completion is None:
            raise _bad("completion_code", "Unknown or already used completion code.")
        if completion.expires_at <= now:
            self._discard_completion(completion)
            raise _bad("completion_code", "The completion code expired; start the link again.")
        if completion.uid != uid:
            log.warning("link completion by another user refused; grant revoked")
            self._discard_completion(completion)
            raise _not_yours()
        owner = completion.uid
        refresh = completion.sealed_refresh
        grant = Grant(
            sub=completion.sub,
            scopes=completion.scopes,
            refresh_token=self._vault.open(owner, refresh) if refresh else None,
            access_token=self._vault.open(owner, completion.sealed_access),
            access_expires_at=completion.access_expires_at,
        )
        return self._link_or_raise(uid, grant, now, "completion_code")

    def revoke_expired(self, now: datetime, limit: int = 100) -> int:
        """Revoke and delete grants no app completed in time; the number revoked."""
        revoked = 0
        for code_hash in self._store.expired_completions(now, limit):
            completion = self._store.take_completion(code_hash)
            if completion is not None:
                self._discard_completion(completion)
                revoked += 1
        return revoked

    def exchange_native(
        self, uid: str, server_auth_code: str, nonce: str, now: datetime | None = None
    ) -> LinkStatusView:
        """Link from a native Google Sign-In server auth code posted by the app, with the
        nonce of a link the caller started (``POST /v1/google/link``). The nonce is single
        use; a code whose ID token names another nonce, or posted by another user than the
        one who started, links nothing and its grant is revoked (403)."""
        now = now or datetime.now(UTC)
        pending = self._store.consume_pending(state_hash(nonce))
        if pending is None or pending.consumed or pending.kind != _NATIVE:
            raise _bad("nonce", "Unknown or already used nonce; start the link again.")
        if pending.expires_at <= now:
            raise _bad("nonce", "The nonce expired; start the link again.")
        grant = self._oauth.exchange(server_auth_code, None, native=True)
        if pending.uid != uid or grant.nonce != nonce:
            log.warning("native link not bound to the caller's attempt; grant revoked")
            self._discard(grant.sub, grant.refresh_token or grant.access_token)
            raise _not_yours()
        return self._link_or_raise(uid, grant, now, "server_auth_code")

    def _link_or_raise(self, uid: str, grant: Grant, now: datetime, field: str) -> LinkStatusView:
        """Store the grant for ``uid``: 409 when the Google account backs another user,
        400 naming ``field`` when Google gave no refresh token and none is stored."""
        result = self._store_grant(uid, grant, now)
        if result is LinkResult.ACCOUNT_IN_USE:
            raise AppError(
                ErrorCode.CONFLICT, "This Google account is linked to another user.", field=field
            )
        if result is LinkResult.NO_REFRESH_TOKEN:
            raise AppError(
                ErrorCode.INVALID_REQUEST,
                "Google returned no refresh token; request offline access and try again.",
                field=field,
            )
        return self._store.link_status(uid)

    def _discard_completion(self, completion: PendingCompletion) -> None:
        sealed = completion.sealed_refresh or completion.sealed_access
        try:
            token = self._vault.open(completion.uid, sealed)
        except Exception:  # a key retired meanwhile: nothing left to revoke with
            log.warning("pending grant could not be opened for revocation")
            return
        self._discard(completion.sub, token)

    def _discard(self, sub: str, token: str) -> None:
        """Revoke a grant no link will use, unless it backs a live link of its Google
        account (Google revokes per user and client: revoking would unlink that user)."""
        if self._store.is_linked_account(sub):
            log.warning("unused grant backs a live link; not revoked")
            return
        try:
            self._oauth.revoke(token)
        except Exception:  # best effort, like unlink: the grant is forgotten anyway
            log.warning("revocation of an unused grant failed")

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


def _bad(field: str, message: str) -> AppError:
    return AppError(ErrorCode.INVALID_REQUEST, message, field=field)


def _not_yours() -> AppError:
    return AppError(
        ErrorCode.PERMISSION_DENIED,
        "This link was started by another user; nothing was linked and the grant was revoked.",
    )


def requested_scopes() -> list[str]:
    """The scopes every link asks for (the user may untick some)."""
    return list(ALL_SCOPES)


def features_of(scopes: list[str]) -> list[Feature]:
    """Features the granted scopes enable."""
    return granted_features(normalize(scopes))
