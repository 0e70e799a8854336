"""Firebase ID token verification (firebase-admin honours FIREBASE_AUTH_EMULATOR_HOST)."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from shared.errors import AppError, ErrorCode
from shared.http import Caller
from shared.logs import get_logger

if TYPE_CHECKING:
    import firebase_admin

log = get_logger(__name__)

_CLOCK_SKEW_SECONDS = 5


class FirebaseAuthenticator:
    """Verifies Firebase ID tokens: signature, audience (the project), issuer and expiry."""

    def __init__(self, project_id: str) -> None:
        self._project_id = project_id
        self._app: firebase_admin.App | None = None
        self._lock = threading.Lock()

    def _firebase_app(self) -> firebase_admin.App:
        with self._lock:
            if self._app is None:
                import firebase_admin

                # A named app keeps us independent of any default app a library creates.
                self._app = firebase_admin.initialize_app(
                    options={"projectId": self._project_id}, name="uplus-auth"
                )
            return self._app

    def verify(self, token: str) -> Caller:
        """The caller the token names, or ``AppError(UNAUTHENTICATED)``."""
        from firebase_admin import auth

        try:
            claims = auth.verify_id_token(
                token, app=self._firebase_app(), clock_skew_seconds=_CLOCK_SKEW_SECONDS
            )
        except auth.CertificateFetchError:
            log.warning("firebase certificate fetch failed")
            raise AppError(
                ErrorCode.GOOGLE_UNAVAILABLE, "Token verification is unavailable.", retry_after=5
            ) from None
        except (ValueError, auth.InvalidIdTokenError, auth.UserDisabledError) as exc:
            log.info("rejected firebase id token", extra={"reason": type(exc).__name__})
            raise AppError(ErrorCode.UNAUTHENTICATED, "The Firebase ID token is invalid.") from None
        # firebase-admin skips the expiry check for emulator tokens; ours holds everywhere.
        if float(claims.get("exp", 0)) < time.time() - _CLOCK_SKEW_SECONDS:
            log.info("rejected firebase id token", extra={"reason": "expired"})
            raise AppError(ErrorCode.UNAUTHENTICATED, "The Firebase ID token is invalid.")
        return Caller(uid=str(claims["uid"]), email=claims.get("email"), name=claims.get("name"))
