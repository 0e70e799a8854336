"""The one error model: stable codes, one table from code to HTTP status."""

from __future__ import annotations

from enum import StrEnum
from http import HTTPStatus


class ErrorCode(StrEnum):
    """Stable, documented error codes the mobile app can switch on."""

    INVALID_REQUEST = "invalid_request"
    UNAUTHENTICATED = "unauthenticated"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    PRECONDITION_FAILED = "precondition_failed"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    RATE_LIMITED = "rate_limited"
    GOOGLE_RELINK_REQUIRED = "google_relink_required"
    GOOGLE_NOT_LINKED = "google_not_linked"
    SCOPE_NOT_GRANTED = "scope_not_granted"
    GOOGLE_UNAVAILABLE = "google_unavailable"
    INTERNAL = "internal"


# The account cannot be synced until the user acts (re-link or grant a scope); a
# notification for it is acknowledged, never retried.
ACCOUNT_NEEDS_USER = frozenset(
    {ErrorCode.GOOGLE_RELINK_REQUIRED, ErrorCode.GOOGLE_NOT_LINKED, ErrorCode.SCOPE_NOT_GRANTED}
)

HTTP_STATUS: dict[ErrorCode, HTTPStatus] = {
    ErrorCode.INVALID_REQUEST: HTTPStatus.BAD_REQUEST,
    ErrorCode.UNAUTHENTICATED: HTTPStatus.UNAUTHORIZED,
    ErrorCode.PERMISSION_DENIED: HTTPStatus.FORBIDDEN,
    ErrorCode.NOT_FOUND: HTTPStatus.NOT_FOUND,
    ErrorCode.METHOD_NOT_ALLOWED: HTTPStatus.METHOD_NOT_ALLOWED,
    ErrorCode.CONFLICT: HTTPStatus.CONFLICT,
    ErrorCode.PRECONDITION_FAILED: HTTPStatus.PRECONDITION_FAILED,
    ErrorCode.PAYLOAD_TOO_LARGE: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    ErrorCode.RATE_LIMITED: HTTPStatus.TOO_MANY_REQUESTS,
    ErrorCode.GOOGLE_RELINK_REQUIRED: HTTPStatus.UNAUTHORIZED,
    ErrorCode.GOOGLE_NOT_LINKED: HTTPStatus.CONFLICT,
    ErrorCode.SCOPE_NOT_GRANTED: HTTPStatus.FORBIDDEN,
    ErrorCode.GOOGLE_UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
    ErrorCode.INTERNAL: HTTPStatus.INTERNAL_SERVER_ERROR,
}


class AppError(Exception):
    """An expected failure with a stable code; its message is safe to show the caller."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        field: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.retry_after = retry_after

    @property
    def status(self) -> int:
        """The HTTP status this error maps to."""
        return int(HTTP_STATUS[self.code])

    def to_body(self) -> dict[str, object]:
        """The JSON error body every HTTP function returns."""
        error: dict[str, object] = {"code": self.code.value, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        if self.retry_after is not None:
            error["retry_after"] = self.retry_after
        return {"error": error}
