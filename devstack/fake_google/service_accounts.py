"""Service accounts: the JWT-bearer grant (RFC 7523) of Google's token endpoint.

A service account's public key is registered through `POST /_control/service-accounts`
(`client_email`, `client_id`, `private_key_id`, `public_key_pem`, `project_id`); it survives
`/_control/reset`, like OAuth clients. google-auth's service-account credentials then obtain
access tokens exactly as from Google: `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`
with an RS256 assertion signed by the private key (`iss` the account's email, `aud` the token
endpoint, `scope` the requested scopes, at most an hour between `iat` and `exp`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from google.auth import crypt, jwt

from devstack.fake_google.errors import OAuthError
from devstack.fake_google.scopes import format_scopes, parse_scope_param
from devstack.fake_google.state import ACCESS_TOKEN_LIFETIME_SECONDS, CallRecord, FakeState

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# google-auth always addresses Google's endpoint, whatever `token_uri` the key file names.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
_MAX_LIFETIME_SECONDS = 3600
_CLOCK_SKEW_SECONDS = 300
_GOOGLE_SCOPE = "https://www.googleapis.com/auth/"


@dataclass(frozen=True)
class ServiceAccount:
    """A registered service account: who it is and the public half of its key."""

    client_email: str
    client_id: str
    project_id: str
    private_key_id: str
    public_key_pem: str

    def to_json(self) -> dict[str, str]:
        """The account as the control API shows it (no key material)."""
        return {
            "client_email": self.client_email,
            "client_id": self.client_id,
            "project_id": self.project_id,
            "private_key_id": self.private_key_id,
        }


def parse_service_account(body: Mapping[str, Any]) -> ServiceAccount:
    """A service account from a control request; ValueError names what is wrong."""
    fields = ("client_email", "client_id", "project_id", "private_key_id", "public_key_pem")
    values = {name: body.get(name) for name in fields}
    missing = [name for name, value in values.items() if not isinstance(value, str) or not value]
    if missing:
        raise ValueError(f"required strings: {', '.join(missing)}")
    try:
        crypt.RSAVerifier.from_string(str(values["public_key_pem"]))
    except ValueError:
        raise ValueError("public_key_pem is not an RSA public key or certificate") from None
    return ServiceAccount(**{name: str(value) for name, value in values.items()})


def redeem_assertion(
    state: FakeState,
    form: Mapping[str, str],
    record: CallRecord,
    known_scopes: frozenset[str],
    token_url: str,
) -> dict[str, Any]:
    """Verify a service account's signed assertion and mint an access token for it."""
    assertion = form.get("assertion")
    if not assertion:
        raise OAuthError("invalid_request", "Missing required parameter: assertion")
    try:
        header = jwt.decode_header(assertion)
        unverified = jwt.decode(assertion, verify=False)
    except (ValueError, TypeError):
        raise OAuthError("invalid_grant", "Invalid JWT.") from None
    if header.get("alg") != "RS256":
        raise OAuthError("invalid_grant", "Invalid JWT: only RS256 is accepted.")
    account = state.service_accounts.get(str(unverified.get("iss", "")))
    if account is None:
        raise OAuthError("invalid_grant", "Invalid grant: account not found")
    record.client_id = account.client_id
    record.user_sub = account.client_email
    if header.get("kid") not in (None, account.private_key_id):
        raise OAuthError("invalid_grant", "Invalid JWT Signature.")
    try:
        claims = jwt.decode(
            assertion,
            certs={account.private_key_id: account.public_key_pem},
            audience=[GOOGLE_TOKEN_AUDIENCE, token_url],
            clock_skew_in_seconds=_CLOCK_SKEW_SECONDS,
        )
    except ValueError as error:
        reason = str(error)
        if "expired" in reason.lower() or "too early" in reason.lower():
            raise OAuthError(
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                "reasonable timeframe. Check your iat and exp values in the JWT claim.",
            ) from None
        if "audience" in reason.lower():
            raise OAuthError("invalid_grant", "Invalid JWT: Failed audience check.") from None
        raise OAuthError("invalid_grant", "Invalid JWT Signature.") from None
    issued, expires = int(claims.get("iat", 0)), int(claims.get("exp", 0))
    if expires - issued > _MAX_LIFETIME_SECONDS:
        raise OAuthError(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
            "timeframe. Check your iat and exp values in the JWT claim.",
        )
    if claims.get("sub") not in (None, account.client_email):
        # Domain-wide delegation: not something this fake's accounts are granted.
        raise OAuthError("unauthorized_client", "Client is unauthorized to retrieve access tokens.")
    scopes = parse_scope_param(str(claims.get("scope") or ""))
    if not scopes:
        raise OAuthError("invalid_scope", "Empty or missing scope not allowed.")
    # Service accounts may ask for any Google scope (firebase-admin asks for several).
    unknown = [s for s in scopes if s not in known_scopes and not s.startswith(_GOOGLE_SCOPE)]
    if unknown:
        raise OAuthError(
            "invalid_scope", f"Invalid OAuth scope or ID token audience provided: {unknown}"
        )
    token = state.mint_access_token(
        account.client_email, account.client_id, frozenset(scopes), None
    )
    return {
        "access_token": token.value,
        "expires_in": ACCESS_TOKEN_LIFETIME_SECONDS,
        "token_type": "Bearer",
        "scope": format_scopes(scopes),
    }
