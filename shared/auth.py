"""Firebase ID token verification and user deletion (firebase-admin honours
FIREBASE_AUTH_EMULATOR_HOST).

Every request checks revocation: ``verify_id_token(check_revoked=True)`` reads the user
record (one Auth ``accounts:lookup`` call per request, measured in ``make bench``) and
refuses tokens of deleted or disabled users and tokens issued before the user's
``tokensValidAfterTime``.
https://firebase.google.com/docs/auth/admin/manage-sessions#detect_id_token_revocation
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from shared import doc_ids
from shared.errors import AppError, ErrorCode
from shared.http import Caller
from shared.logs import get_logger

if TYPE_CHECKING:
    import firebase_admin

log = get_logger(__name__)

_CLOCK_SKEW_SECONDS = 5


class FirebaseAuthenticator:
    """Verifies Firebase ID tokens: signature, audience (the project), issuer, expiry, and
    that the user still exists, is enabled and has not had its sessions revoked."""

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
        """The caller the token names, or ``AppError(UNAUTHENTICATED)``; 503
        ``GOOGLE_UNAVAILABLE`` when Firebase Auth cannot be asked."""
        from firebase_admin import auth, exceptions

        try:
            claims = auth.verify_id_token(
                token,
                app=self._firebase_app(),
                check_revoked=True,
                clock_skew_seconds=_CLOCK_SKEW_SECONDS,
            )
        except auth.CertificateFetchError:
            log.warning("firebase certificate fetch failed")
            raise _unavailable() from None
        except (
            ValueError,
            auth.InvalidIdTokenError,  # includes RevokedIdTokenError and ExpiredIdTokenError
            auth.UserDisabledError,
            auth.UserNotFoundError,
        ) as exc:
            log.info("rejected firebase id token", extra={"reason": type(exc).__name__})
            raise AppError(ErrorCode.UNAUTHENTICATED, "The Firebase ID token is invalid.") from None
        except exceptions.FirebaseError as exc:
            log.warning("firebase user lookup failed", extra={"reason": type(exc).__name__})
            raise _unavailable() from None
        # firebase-admin skips the expiry check for emulator tokens; ours holds everywhere.
        if float(claims.get("exp", 0)) < time.time() - _CLOCK_SKEW_SECONDS:
            log.info("rejected firebase id token", extra={"reason": "expired"})
            raise AppError(ErrorCode.UNAUTHENTICATED, "The Firebase ID token is invalid.")
        uid = str(claims["uid"])
        if not doc_ids.is_valid(uid):  # custom uids may hold any 128 characters
            log.info("rejected firebase id token", extra={"reason": "uid_not_storable"})
            raise AppError(ErrorCode.UNAUTHENTICATED, "The Firebase ID token is invalid.")
        return Caller(uid=uid, email=claims.get("email"), name=claims.get("name"))

    def delete_user(self, uid: str) -> None:
        """Delete the Firebase Auth user, so none of its ID tokens is accepted any more
        (idempotent: an already deleted user is fine); 503 when Auth cannot be asked."""
        from firebase_admin import auth, exceptions

        try:
            auth.delete_user(uid, app=self._firebase_app())
        except auth.UserNotFoundError:
            return
        except exceptions.FirebaseError as exc:
            log.warning("firebase user deletion failed", extra={"reason": type(exc).__name__})
            raise _unavailable() from None


def _unavailable() -> AppError:
    return AppError(ErrorCode.GOOGLE_UNAVAILABLE, "Firebase Auth is unavailable.", retry_after=5)
