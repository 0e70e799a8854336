"""Per-user Google credentials: the one place access tokens are refreshed and stored.

Access tokens are cached sealed in ``users/{uid}/secrets/google`` and refreshed ahead of
expiry. Two instances may refresh at once: each writes only the access-token fields and
only if the document is unchanged since it read it, so a newer refresh token stored by a
re-link in between is never overwritten. ``invalid_grant`` is permanent: the account is
marked ``relink_required`` and its sealed tokens deleted; then ``after_relink`` runs (watches
stopped, the app told: ``shared.services.relink``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.errors import AppError, ErrorCode
from shared.firestore import Collections
from shared.logs import get_logger
from shared.scopes import FEATURE_SCOPES, Feature, normalize
from shared.settings import Settings
from shared.vault import TokenVault, VaultError

if TYPE_CHECKING:
    from google.cloud import firestore
    from google.oauth2.credentials import Credentials

log = get_logger(__name__)

_REFRESH_AHEAD = timedelta(minutes=5)


class GoogleCredentialsProvider:
    """Builds ``google.oauth2.credentials.Credentials`` for one user and feature."""

    def __init__(
        self,
        client: firestore.Client,
        vault: TokenVault,
        settings: Settings,
        after_relink: Callable[[str], None],
    ) -> None:
        self._db = client
        self._vault = vault
        self._settings = settings
        self._after_relink = after_relink

    def for_user(
        self, uid: str, feature: Feature | None = None, *, force_refresh: bool = False
    ) -> Credentials:
        """Valid credentials, or a 401/403/409 ``AppError`` the app can act on."""
        from google.oauth2.credentials import Credentials

        user_ref = self._db.collection(Collections.USERS).document(uid)
        secret_ref = user_ref.collection(Collections.SECRETS).document("google")
        secret = secret_ref.get()
        data: dict[str, Any] = (secret.to_dict() or {}) if secret.exists else {}
        scopes = data.get("scopes")
        if not data.get("refresh_token") or scopes is None:
            # No tokens, or tokens stored before the link stored the scopes beside them: the
            # user document says why (not linked, re-link) and which scopes were granted.
            scopes = self._granted(user_ref, data)
        # Tokens are stored only while the account is linked (a re-link or an unlink
        # deletes them), so the tokens document alone says the account is linked.
        granted = set(normalize(scopes))
        if feature is not None and not granted.issuperset(FEATURE_SCOPES[feature]):
            raise AppError(
                ErrorCode.SCOPE_NOT_GRANTED,
                f"The Google permission for {feature.value} was not granted.",
            )
        try:
            expires_at = data.get("access_expires_at")
            now = datetime.now(UTC)
            if not force_refresh and expires_at and expires_at - _REFRESH_AHEAD > now:
                token = self._vault.open(uid, data["access_token"])
                return Credentials(token=token, expiry=expires_at.replace(tzinfo=None))
            refresh_token = self._vault.open(uid, data["refresh_token"])
        except VaultError:
            raise AppError(
                ErrorCode.GOOGLE_RELINK_REQUIRED, "Link your Google account again."
            ) from None
        return self._refresh(uid, secret_ref, secret.update_time, refresh_token)

    def _granted(self, user_ref: firestore.DocumentReference, tokens: dict[str, Any]) -> list[str]:
        """The scopes the user document records, or the ``AppError`` of an account that
        cannot call Google (not linked, re-link required, tokens gone)."""
        user = user_ref.get()
        google = ((user.to_dict() or {}).get("google") or {}) if user.exists else {}
        status = google.get("status", "not_linked")
        if status == "relink_required":
            raise AppError(ErrorCode.GOOGLE_RELINK_REQUIRED, "Link your Google account again.")
        if status != "linked":
            raise AppError(ErrorCode.GOOGLE_NOT_LINKED, "No Google account is linked.")
        if not tokens.get("refresh_token"):
            raise AppError(ErrorCode.GOOGLE_RELINK_REQUIRED, "Link your Google account again.")
        return list(google.get("scopes") or [])

    def _refresh(
        self,
        uid: str,
        secret_ref: firestore.DocumentReference,
        read_at: Any,
        refresh_token: str,
    ) -> Credentials:
        from google.api_core.exceptions import FailedPrecondition, NotFound
        from google.auth.exceptions import RefreshError, TransportError
        from google.auth.transport.requests import Request
        from google.oauth2.credentials import Credentials

        settings = self._settings
        refreshing = Credentials(
            token=None,
            refresh_token=refresh_token,
            token_uri=settings.oauth_url("/token"),
            client_id=settings.google_oauth_client_id,
            client_secret=settings.google_oauth_client_secret.get_secret_value(),
        )
        try:
            refreshing.refresh(Request())
        except RefreshError as exc:
            if "invalid_grant" in str(exc):
                self.mark_relink_required(uid)
                raise AppError(
                    ErrorCode.GOOGLE_RELINK_REQUIRED, "Link your Google account again."
                ) from None
            log.warning("token refresh failed", extra={"reason": type(exc).__name__})
            raise AppError(
                ErrorCode.GOOGLE_UNAVAILABLE, "Google did not answer.", retry_after=5
            ) from None
        except TransportError:
            raise AppError(
                ErrorCode.GOOGLE_UNAVAILABLE, "Google did not answer.", retry_after=5
            ) from None
        expiry = (refreshing.expiry or datetime.now(UTC).replace(tzinfo=None)).replace(tzinfo=UTC)
        write = self._db.write_option(last_update_time=read_at)
        try:
            secret_ref.update(
                {
                    "access_token": self._vault.seal(uid, str(refreshing.token)),
                    "access_expires_at": expiry,
                    "updated_at": datetime.now(UTC),
                },
                option=write,
            )
        except (FailedPrecondition, NotFound):
            # Another instance or a re-link wrote first; its state wins, our token still works.
            log.info("access token not cached: stored credentials changed meanwhile")
        return Credentials(token=refreshing.token, expiry=expiry.replace(tzinfo=None))

    def mark_relink_required(self, uid: str) -> None:
        """Google refused the grant for good: drop the dead tokens, then ``after_relink``."""
        user_ref = self._db.collection(Collections.USERS).document(uid)
        batch = self._db.batch()
        batch.update(
            user_ref, {"google.status": "relink_required", "google.updated_at": datetime.now(UTC)}
        )
        batch.delete(user_ref.collection(Collections.SECRETS).document("google"))
        batch.commit()
        log.warning("google grant refused: account needs re-link")
        self._after_relink(uid)
