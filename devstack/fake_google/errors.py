"""Google-shaped error payloads for the REST APIs and the OAuth endpoints."""

from __future__ import annotations

from typing import Any

# Canonical gRPC status names Google puts in `error.status`, keyed by HTTP code.
_STATUS_BY_CODE: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    410: "NOT_FOUND",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

_DEFAULT_REASON_BY_CODE: dict[int, str] = {
    400: "badRequest",
    401: "authError",
    403: "forbidden",
    404: "notFound",
    409: "conflict",
    410: "gone",
    412: "conditionNotMet",
    429: "rateLimitExceeded",
    500: "backendError",
    501: "notImplemented",
    503: "backendError",
    504: "deadlineExceeded",
}

_DEFAULT_MESSAGE_BY_CODE: dict[int, str] = {
    400: "Bad Request",
    401: "Invalid Credentials",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    410: "Gone",
    412: "Precondition Failed",
    429: "Rate Limit Exceeded",
    500: "Backend Error",
    501: "Not Implemented",
    503: "Backend Error",
    504: "Deadline Exceeded",
}

UNAUTHENTICATED_MESSAGE = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
INSUFFICIENT_SCOPES_MESSAGE = "Request had insufficient authentication scopes."


def default_reason(code: int) -> str:
    """The `errors[].reason` Google usually sends with an HTTP status."""
    return _DEFAULT_REASON_BY_CODE.get(code, "backendError" if code >= 500 else "badRequest")


def default_message(code: int) -> str:
    """A short human message for an HTTP status."""
    return _DEFAULT_MESSAGE_BY_CODE.get(code, "Error")


class GoogleApiError(Exception):
    """Raised by API handlers to answer with a Google-shaped JSON error."""

    def __init__(
        self,
        code: int,
        message: str | None = None,
        reason: str | None = None,
        *,
        location: str | None = None,
        location_type: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        item_message: str | None = None,
    ) -> None:
        self.code = code
        # Google's `errors[].message` is often terser than the top-level message.
        self.item_message = item_message
        self.message = message or default_message(code)
        self.reason = reason or default_reason(code)
        self.location = location
        self.location_type = location_type
        self.details = details
        self.headers = headers or {}
        super().__init__(f"{code} {self.reason}: {self.message}")

    def to_json(self) -> dict[str, Any]:
        """The body Google's JSON APIs send for this error."""
        item: dict[str, Any] = {
            "message": self.item_message or self.message,
            "domain": "global",
            "reason": self.reason,
        }
        if self.location:
            item["location"] = self.location
        if self.location_type:
            item["locationType"] = self.location_type
        error: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "errors": [item],
            "status": _STATUS_BY_CODE.get(self.code, "UNKNOWN"),
        }
        if self.details:
            error["details"] = self.details
        return {"error": error}


def unauthenticated() -> GoogleApiError:
    """The 401 Google answers for a missing, unknown, expired or revoked access token."""
    return GoogleApiError(
        401,
        UNAUTHENTICATED_MESSAGE,
        "authError",
        location="Authorization",
        location_type="header",
        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
        item_message="Invalid Credentials",
    )


def insufficient_scopes(service: str, method_id: str) -> GoogleApiError:
    """The 403 Google answers when the token holds none of the method's scopes."""
    return GoogleApiError(
        403,
        INSUFFICIENT_SCOPES_MESSAGE,
        "insufficientPermissions",
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                "domain": "googleapis.com",
                "metadata": {"service": service, "method": method_id},
            }
        ],
        headers={
            "WWW-Authenticate": (
                'Bearer realm="https://accounts.google.com/", error="insufficient_scope"'
            )
        },
        item_message="Insufficient Permission",
    )


class OAuthError(Exception):
    """Raised by the token and revoke endpoints: answered as `{"error", "error_description"}`."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        self.error = error
        self.description = description
        self.status = status
        super().__init__(f"{status} {error}: {description}")

    def to_json(self) -> dict[str, str]:
        """The body Google's OAuth endpoints send for this error."""
        return {"error": self.error, "error_description": self.description}


class ConsentPageError(Exception):
    """Raised by the authorize step: answered with an HTML error page, never a redirect."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        self.error = error
        self.description = description
        self.status = status
        super().__init__(f"{status} {error}: {description}")
