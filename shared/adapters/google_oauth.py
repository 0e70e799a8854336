"""Google's OAuth server through google-auth-oauthlib (consent URL, code exchange) and
google-auth (ID token verification, revocation)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from shared.errors import AppError, ErrorCode
from shared.logs import get_logger
from shared.scopes import ALL_SCOPES, normalize
from shared.services.linking import Grant
from shared.settings import Settings

log = get_logger(__name__)

# Users may untick scopes (granular consent); oauthlib must accept a narrower grant.
os.environ.setdefault("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")

_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
_TIMEOUT_SECONDS = 10


class GoogleOAuthServer:
    """The ``OAuthServer`` port over Google's (or the configured) OAuth endpoints."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def _client_config(self) -> dict[str, Any]:
        settings = self._settings
        return {
            "web": {
                "client_id": settings.google_oauth_client_id,
                "client_secret": settings.google_oauth_client_secret.get_secret_value(),
                "auth_uri": settings.oauth_url("/o/oauth2/v2/auth"),
                "token_uri": settings.oauth_url("/token"),
                "redirect_uris": [settings.google_oauth_redirect_uri],
            }
        }

    def _flow(self, verifier: str | None, redirect_uri: str) -> Any:
        from google_auth_oauthlib.flow import Flow

        return Flow.from_client_config(
            self._client_config(),
            scopes=list(ALL_SCOPES),
            redirect_uri=redirect_uri,
            code_verifier=verifier,
            autogenerate_code_verifier=False,
        )

    def authorization_url(self, state: str, verifier: str, *, force_consent: bool) -> str:
        """Google's consent URL: offline access, incremental scopes, PKCE S256."""
        flow = self._flow(verifier, self._settings.google_oauth_redirect_uri)
        extra = {"prompt": "consent"} if force_consent else {}
        url, _ = flow.authorization_url(
            state=state, access_type="offline", include_granted_scopes="true", **extra
        )
        return str(url)

    def exchange(self, code: str, verifier: str | None, *, native: bool) -> Grant:
        """Redeem a code; native server auth codes use an empty redirect URI and no PKCE."""
        from oauthlib.oauth2.rfc6749.errors import OAuth2Error

        redirect_uri = "" if native else self._settings.google_oauth_redirect_uri
        flow = self._flow(verifier, redirect_uri)
        try:
            token = flow.fetch_token(code=code, timeout=_TIMEOUT_SECONDS)
        except OAuth2Error as exc:
            log.info("google rejected the authorization code", extra={"oauth_error": exc.error})
            raise AppError(
                ErrorCode.INVALID_REQUEST, "Google rejected the authorization code.", field="code"
            ) from None
        except requests.RequestException:
            raise AppError(
                ErrorCode.GOOGLE_UNAVAILABLE, "Google did not answer.", retry_after=5
            ) from None
        claims = self._verified_claims(token.get("id_token"))
        expires_in = int(token.get("expires_in") or 3600)
        nonce = claims.get("nonce")
        return Grant(
            sub=str(claims["sub"]),
            scopes=normalize(token.get("scope") or ""),
            refresh_token=token.get("refresh_token"),
            access_token=str(token["access_token"]),
            access_expires_at=datetime.now(UTC) + timedelta(seconds=expires_in),
            nonce=nonce if isinstance(nonce, str) else None,
        )

    def _verified_claims(self, id_token: str | None) -> dict[str, Any]:
        """The claims of Google's ID token (signature, audience, issuer, expiry checked),
        with a ``sub``; its ``nonce`` is the one the sign-in was started with.
        https://developers.google.com/identity/openid-connect/openid-connect#validatinganidtoken
        """
        from google.auth.transport.requests import Request
        from google.oauth2 import id_token as google_id_token

        if not id_token:
            raise AppError(ErrorCode.INVALID_REQUEST, "Google returned no ID token.", field="code")
        try:
            claims = google_id_token.verify_token(
                id_token,
                Request(),
                audience=self._settings.google_oauth_client_id,
                certs_url=self._settings.oauth_url("/oauth2/v1/certs"),
                clock_skew_in_seconds=10,
            )
        except ValueError as exc:
            log.warning("google id token rejected", extra={"reason": type(exc).__name__})
            raise AppError(ErrorCode.INVALID_REQUEST, "Invalid Google ID token.") from None
        if claims.get("iss") not in _ISSUERS or not claims.get("sub"):
            raise AppError(ErrorCode.INVALID_REQUEST, "Invalid Google ID token.")
        return dict(claims)

    def revoke(self, token: str) -> None:
        """Revoke the whole grant the token belongs to."""
        response = requests.post(
            self._settings.oauth_url("/revoke"),
            data={"token": token},
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=_TIMEOUT_SECONDS,
        )
        if response.status_code not in (200, 400):  # 400: already revoked or unknown
            raise RuntimeError(f"revocation answered {response.status_code}")
