"""Google API failures: one table from Google's answer to our ErrorCode, and bounded retries.

The gateway (``shared.adapters.google_gateway``) turns googleapiclient/transport exceptions
into ``GoogleFailure`` (``from_exception``) and calls Google through ``call_with_retries``;
services handle the reasons they care about (e.g. ``duplicate`` on insert) and map the rest
with ``to_app_error``.

Retries follow Google's guidance: exponential backoff with full jitter for 5xx and
``rateLimitExceeded``/``userRateLimitExceeded``/429, honouring ``Retry-After``
(https://developers.google.com/workspace/calendar/api/guides/errors,
https://developers.google.com/workspace/gmail/api/guides/handle-errors,
https://developers.google.com/workspace/drive/api/guides/limits).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from shared.errors import AppError, ErrorCode
from shared.logs import get_logger

log = get_logger(__name__)

T = TypeVar("T")

RATE_LIMIT_REASONS = frozenset(
    {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "dailyLimitExceeded"}
)
SCOPE_REASONS = frozenset({"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"})
DEFAULT_RETRY_AFTER_SECONDS = 5
# Status 0 stands for "no answer": timeouts, refused or dropped connections.
NO_ANSWER = 0


class GoogleFailure(Exception):
    """A failed Google API call: HTTP status (0 when none came), reason and Retry-After."""

    def __init__(self, status: int, reason: str = "", retry_after: int | None = None) -> None:
        super().__init__(f"Google answered {status} {reason}".strip())
        self.status = status
        self.reason = reason
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        """No answer or a 5xx: the same call may succeed later."""
        return self.status == NO_ANSWER or self.status >= 500

    @property
    def rate_limited(self) -> bool:
        """Google asks to slow down: 429, or 403 with a rate-limit reason."""
        return self.status == 429 or (self.status == 403 and self.reason in RATE_LIMIT_REASONS)


# The one table: (status, reasons or None for any) → our code, first match wins.
ERROR_TABLE: tuple[tuple[int, frozenset[str] | None, ErrorCode, str], ...] = (
    (401, None, ErrorCode.GOOGLE_RELINK_REQUIRED, "Link your Google account again."),
    (403, SCOPE_REASONS, ErrorCode.SCOPE_NOT_GRANTED, "The Google permission was not granted."),
    (403, RATE_LIMIT_REASONS, ErrorCode.RATE_LIMITED, "Google asks to slow down."),
    (403, None, ErrorCode.PERMISSION_DENIED, "Google refused access to this item."),
    (429, None, ErrorCode.RATE_LIMITED, "Google asks to slow down."),
    (404, None, ErrorCode.NOT_FOUND, "No such item."),
    (410, None, ErrorCode.NOT_FOUND, "No such item."),
    (409, None, ErrorCode.CONFLICT, "The item already exists or changed."),
    (412, None, ErrorCode.PRECONDITION_FAILED, "The item changed since you read it."),
    (400, None, ErrorCode.INVALID_REQUEST, "Google rejected the request."),
)


def to_app_error(failure: GoogleFailure) -> AppError:
    """The AppError the app sees for a Google failure (5xx, timeouts, unknown → 503)."""
    for status, reasons, code, message in ERROR_TABLE:
        if failure.status == status and (reasons is None or failure.reason in reasons):
            retry_after = None
            if code is ErrorCode.RATE_LIMITED:
                retry_after = failure.retry_after or DEFAULT_RETRY_AFTER_SECONDS
            return AppError(code, message, retry_after=retry_after)
    return AppError(
        ErrorCode.GOOGLE_UNAVAILABLE,
        "Google did not answer; try again.",
        retry_after=DEFAULT_RETRY_AFTER_SECONDS,
    )


def _retry_after(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return max(1, int(value))
    except ValueError:
        return None


def from_exception(exc: BaseException) -> GoogleFailure | None:
    """A googleapiclient/httplib2/socket exception as a GoogleFailure; None if it is none."""
    import http.client

    import httplib2
    import requests
    from google.auth.exceptions import RefreshError, TransportError
    from googleapiclient.errors import HttpError

    if isinstance(exc, GoogleFailure):
        return exc
    if isinstance(exc, HttpError):
        reason = ""
        try:
            error = json.loads(exc.content or b"{}").get("error", {})
            items = error.get("errors") or [{}]
            reason = str(items[0].get("reason") or "")
            if not reason:
                details = error.get("details") or [{}]
                reason = str(details[0].get("reason") or "")
        except (ValueError, AttributeError, TypeError, IndexError):
            reason = ""
        return GoogleFailure(exc.status_code, reason, _retry_after(exc.resp.get("retry-after")))
    if isinstance(exc, RefreshError):
        # A token Google will not refresh: the same as a 401 for the caller.
        return GoogleFailure(401, "refreshFailed")
    if isinstance(exc, TimeoutError | ConnectionError | OSError | TransportError):
        return GoogleFailure(NO_ANSWER, type(exc).__name__)
    if isinstance(exc, requests.RequestException | http.client.HTTPException):
        return GoogleFailure(NO_ANSWER, type(exc).__name__)
    if isinstance(exc, httplib2.HttpLib2Error):
        return GoogleFailure(NO_ANSWER, type(exc).__name__)
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with full-jitter exponential backoff inside a time budget (seconds).

    ``retry_rate_limits``: wait out a rate-limit answer (``Retry-After`` or the backoff)
    inside the budget; when False the 429 goes back to the caller, who can wait itself.
    """

    attempts: int = 3
    base_delay: float = 0.25
    max_delay: float = 2.0
    budget_seconds: float = 20.0
    retry_rate_limits: bool = False


# An app is waiting on an HTTP request: a few quick tries, rate limits handed back.
REQUEST_POLICY = RetryPolicy()
# A Pub/Sub or webhook handler has minutes and Pub/Sub redelivers: wait rate limits out.
EVENT_POLICY = RetryPolicy(
    attempts=5, base_delay=1.0, max_delay=16.0, budget_seconds=60.0, retry_rate_limits=True
)


def call_with_retries(
    action: Callable[[], T],
    policy: RetryPolicy = REQUEST_POLICY,
    *,
    resend_safe: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    jitter: Callable[[float, float], float] = random.uniform,
) -> T:
    """Run ``action``; retry transient failures while attempts and budget remain.

    ``resend_safe=False`` (a call Google may have applied although no answer came, such as
    a ``watch``): a request without an answer is not sent again. Raises ``GoogleFailure``
    for every failure (the last one when retries run out).
    """
    deadline = clock() + policy.budget_seconds
    attempt = 0
    while True:
        attempt += 1
        try:
            return action()
        except Exception as exc:
            failure = from_exception(exc)
            if failure is None:
                raise
            delay = jitter(0, min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1)))
            if failure.rate_limited:
                delay = max(delay, float(failure.retry_after or 0))
            retryable = (failure.transient and (resend_safe or failure.status != NO_ANSWER)) or (
                failure.rate_limited and policy.retry_rate_limits
            )
            out_of_time = clock() + delay >= deadline
            if not retryable or attempt >= policy.attempts or out_of_time:
                if retryable:
                    log.warning(
                        "google call failed after retries",
                        extra={"attempts": attempt, "google_status": failure.status},
                    )
                raise failure from None
            sleep(delay)
