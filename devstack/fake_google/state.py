"""In-memory state of the fake: users, clients, codes, grants, tokens, call log, faults.

Everything here is plain data. Callers hold `FakeState.lock` while they read or change it, so a
whole request (check, then mutate) is atomic under the threaded server.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from devstack.fake_google.config import FakeGoogleConfig, OAuthClient

if TYPE_CHECKING:
    from devstack.fake_google.service_accounts import ServiceAccount

ACCESS_TOKEN_LIFETIME_SECONDS = 3599
AUTH_CODE_LIFETIME_SECONDS = 600


@dataclass(frozen=True)
class FakeUser:
    """A Google account of the fake."""

    sub: str
    email: str
    name: str
    given_name: str
    family_name: str
    picture: str

    def to_json(self) -> dict[str, Any]:
        """The user as the control API shows it."""
        return {
            "sub": self.sub,
            "email": self.email,
            "email_verified": True,
            "name": self.name,
            "given_name": self.given_name,
            "family_name": self.family_name,
            "picture": self.picture,
        }


@dataclass
class AuthCode:
    """An authorization code waiting to be exchanged at the token endpoint."""

    code: str
    client_id: str
    sub: str
    # "" for native sign-in server auth codes, which are exchanged without a redirect URI.
    redirect_uri: str
    scopes: frozenset[str]
    offline: bool
    force_refresh_token: bool
    code_challenge: str | None
    nonce: str | None
    expires_at: float
    used: bool = False
    issued_tokens: list[str] = field(default_factory=list)


@dataclass
class RefreshToken:
    """A refresh token; its scopes grow when the user later consents with include_granted_scopes."""

    value: str
    sub: str
    client_id: str
    scopes: set[str]
    revoked: bool = False


@dataclass
class AccessToken:
    """An opaque bearer access token."""

    value: str
    sub: str
    client_id: str
    scopes: frozenset[str]
    expires_at: float
    revoked: bool = False
    refresh_token: str | None = None


@dataclass
class Grant:
    """Everything one user has granted one client (what the user's account page lists)."""

    sub: str
    client_id: str
    scopes: set[str]


@dataclass
class CallRecord:
    """One recorded request to an OAuth endpoint or an API method (never holds token values)."""

    seq: int
    api: str
    method: str
    http_method: str
    path: str
    query: dict[str, str | list[str]]
    status: int = 0
    user_sub: str | None = None
    client_id: str | None = None
    grant_type: str | None = None
    error: str | None = None
    faulted: bool = False

    def to_json(self) -> dict[str, Any]:
        """The record as `GET /_control/calls` shows it; unset optional fields are left out."""
        data: dict[str, Any] = {
            "seq": self.seq,
            "api": self.api,
            "method": self.method,
            "http_method": self.http_method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "faulted": self.faulted,
        }
        for key in ("user_sub", "client_id", "grant_type", "error"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data


@dataclass
class Fault:
    """A queued failure, consumed by the next `times` calls whose method equals `target`."""

    id: int
    target: str
    status: int
    times_left: int
    delay_seconds: float = 0.0
    error_reason: str | None = None
    oauth_error: str | None = None
    message: str | None = None
    retry_after: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The fault as the control API shows it."""
        return {
            "id": self.id,
            "target": self.target,
            "status": self.status,
            "times_left": self.times_left,
            "delay_seconds": self.delay_seconds,
            "error_reason": self.error_reason,
            "oauth_error": self.oauth_error,
            "message": self.message,
            "retry_after": self.retry_after,
        }


def new_sub() -> str:
    """A Google-like subject id: 21 digits, not starting with 0."""
    return str(secrets.randbelow(9 * 10**20) + 10**20)


class FakeState:
    """All mutable state of one fake server; guard every access with `lock`."""

    def __init__(self, config: FakeGoogleConfig, module_factories: dict[str, Callable[[], Any]]):
        self.lock = threading.RLock()
        self.clients: dict[str, OAuthClient] = {c.client_id: c for c in config.clients}
        self.primary_client_id: str | None = config.clients[0].client_id if config.clients else None
        # By client_email. Like clients, they survive `reset` (registered once at stack start).
        self.service_accounts: dict[str, ServiceAccount] = {}
        self._module_factories = module_factories
        self.users: dict[str, FakeUser] = {}
        self.codes: dict[str, AuthCode] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.grants: dict[tuple[str, str], Grant] = {}
        self.calls: list[CallRecord] = []
        self.faults: list[Fault] = []
        self._next_fault_id = 1
        self.module_data: dict[str, Any] = {}
        self.app_link_visits: list[dict[str, str]] = []
        self.reset()

    def now(self) -> float:
        """Seconds since the epoch; one place to read the clock."""
        return time.time()

    def reset(self) -> None:
        """Forget users, grants, tokens, codes, faults, calls and API data; keep clients."""
        self.users.clear()
        self.codes.clear()
        self.access_tokens.clear()
        self.refresh_tokens.clear()
        self.grants.clear()
        self.calls.clear()
        self.faults.clear()
        self.app_link_visits.clear()
        self.module_data = {name: factory() for name, factory in self._module_factories.items()}

    # Users

    def add_user(self, email: str, name: str | None = None, sub: str | None = None) -> FakeUser:
        """Create a user; raises ValueError when the email or sub is taken."""
        if self.find_user_by_email(email) is not None:
            raise ValueError(f"a user with email {email} exists")
        sub = sub or new_sub()
        if sub in self.users:
            raise ValueError(f"a user with sub {sub} exists")
        display = name or email.split("@", 1)[0]
        given, _, family = display.partition(" ")
        user = FakeUser(
            sub=sub,
            email=email,
            name=display,
            given_name=given,
            family_name=family,
            picture=f"https://lh3.googleusercontent.com/a/fake-{sub}=s96-c",
        )
        self.users[sub] = user
        return user

    def find_user_by_email(self, email: str) -> FakeUser | None:
        """The user with this email (case-insensitive), if any."""
        wanted = email.lower()
        return next((u for u in self.users.values() if u.email.lower() == wanted), None)

    # Tokens and grants

    def live_access_token(self, value: str) -> AccessToken | None:
        """The access token if it exists, is not revoked and has not expired."""
        token = self.access_tokens.get(value)
        if token is None or token.revoked or token.expires_at <= self.now():
            return None
        return token

    def live_refresh_token(self, value: str) -> RefreshToken | None:
        """The refresh token if it exists and is not revoked."""
        token = self.refresh_tokens.get(value)
        if token is None or token.revoked:
            return None
        return token

    def has_live_refresh_token(self, sub: str, client_id: str) -> bool:
        """Whether this user holds an unrevoked refresh token for this client."""
        return any(
            not t.revoked and t.sub == sub and t.client_id == client_id
            for t in self.refresh_tokens.values()
        )

    def mint_access_token(
        self, sub: str, client_id: str, scopes: frozenset[str], refresh_token: str | None
    ) -> AccessToken:
        """Issue a new access token."""
        token = AccessToken(
            value="ya29.fake-" + secrets.token_urlsafe(48),
            sub=sub,
            client_id=client_id,
            scopes=scopes,
            expires_at=self.now() + ACCESS_TOKEN_LIFETIME_SECONDS,
            refresh_token=refresh_token,
        )
        self.access_tokens[token.value] = token
        return token

    def mint_refresh_token(self, sub: str, client_id: str, scopes: frozenset[str]) -> RefreshToken:
        """Issue a new refresh token."""
        token = RefreshToken(
            value="1//fake-" + secrets.token_urlsafe(48),
            sub=sub,
            client_id=client_id,
            scopes=set(scopes),
        )
        self.refresh_tokens[token.value] = token
        return token

    def record_grant(self, sub: str, client_id: str, scopes: frozenset[str]) -> Grant:
        """Add scopes to what this user has granted this client."""
        grant = self.grants.setdefault((sub, client_id), Grant(sub, client_id, set()))
        grant.scopes |= scopes
        return grant

    def revoke_grant(self, sub: str, client_id: str) -> None:
        """Remove the client's access entirely: every token of this user+client dies."""
        for access in self.access_tokens.values():
            if access.sub == sub and access.client_id == client_id:
                access.revoked = True
        for refresh in self.refresh_tokens.values():
            if refresh.sub == sub and refresh.client_id == client_id:
                refresh.revoked = True
        self.grants.pop((sub, client_id), None)

    def revoke_tokens(self, values: list[str]) -> None:
        """Revoke these tokens and every access token minted from a revoked refresh token."""
        doomed = set(values)
        for refresh in self.refresh_tokens.values():
            if refresh.value in doomed:
                refresh.revoked = True
        for access in self.access_tokens.values():
            if access.value in doomed or access.refresh_token in doomed:
                access.revoked = True

    # Call log and faults

    def start_call(
        self, api: str, method: str, http_method: str, path: str, query: dict[str, str | list[str]]
    ) -> CallRecord:
        """Append a call to the log; the caller fills in status and the rest as it learns them."""
        record = CallRecord(len(self.calls) + 1, api, method, http_method, path, query)
        self.calls.append(record)
        return record

    def add_fault(self, fault: Fault) -> Fault:
        """Queue a fault, giving it an id."""
        fault.id = self._next_fault_id
        self._next_fault_id += 1
        self.faults.append(fault)
        return fault

    def take_fault(self, target: str) -> Fault | None:
        """Consume one use of the oldest fault queued for `target`, if any."""
        for fault in self.faults:
            if fault.target == target and fault.times_left > 0:
                fault.times_left -= 1
                if fault.times_left == 0:
                    self.faults.remove(fault)
                return fault
        return None


# Query parameters whose values are secrets and never enter the call log.
_SECRET_PARAMS = frozenset(
    {
        "access_token",
        "oauth_token",
        "key",
        "id_token",
        "token",
        "code",
        "code_verifier",
        "client_secret",
        "refresh_token",
    }
)


def loggable_query(pairs: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    """Query parameters for the call log: secrets redacted, repeated names as lists."""
    result: dict[str, str | list[str]] = {}
    for name, raw_value in pairs:
        value = "<redacted>" if name in _SECRET_PARAMS else raw_value
        existing = result.get(name)
        if existing is None:
            result[name] = value
        elif isinstance(existing, list):
            existing.append(value)
        else:
            result[name] = [existing, value]
    return result
