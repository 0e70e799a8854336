"""The Google error table and the bounded retry policy."""

from __future__ import annotations

import pytest

from shared.errors import ErrorCode
from shared.google_errors import GoogleFailure, RetryPolicy, call_with_retries, to_app_error


@pytest.mark.parametrize(
    ("status", "reason", "code", "http"),
    [
        (401, "authError", ErrorCode.GOOGLE_RELINK_REQUIRED, 401),
        (403, "insufficientPermissions", ErrorCode.SCOPE_NOT_GRANTED, 403),
        (403, "rateLimitExceeded", ErrorCode.RATE_LIMITED, 429),
        (403, "userRateLimitExceeded", ErrorCode.RATE_LIMITED, 429),
        (403, "forbidden", ErrorCode.PERMISSION_DENIED, 403),
        (429, "", ErrorCode.RATE_LIMITED, 429),
        (404, "notFound", ErrorCode.NOT_FOUND, 404),
        (410, "deleted", ErrorCode.NOT_FOUND, 404),
        (409, "duplicate", ErrorCode.CONFLICT, 409),
        (412, "conditionNotMet", ErrorCode.PRECONDITION_FAILED, 412),
        (400, "invalid", ErrorCode.INVALID_REQUEST, 400),
        (500, "backendError", ErrorCode.GOOGLE_UNAVAILABLE, 503),
        (0, "TimeoutError", ErrorCode.GOOGLE_UNAVAILABLE, 503),
    ],
)
def test_table(status: int, reason: str, code: ErrorCode, http: int) -> None:
    error = to_app_error(GoogleFailure(status, reason))
    assert (error.code, error.status) == (code, http)
    if http in (429, 503):
        assert error.retry_after == 5
    assert to_app_error(GoogleFailure(429, "", retry_after=30)).retry_after == 30


class Flaky:
    """Fails with the given failures in turn, then answers "ok"."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def _run(action: Flaky) -> tuple[str, list[float]]:
    sleeps: list[float] = []
    result = call_with_retries(action, RetryPolicy(), sleep=sleeps.append, jitter=lambda a, b: b)
    return result, sleeps


def test_transient_failures_retry_with_growing_backoff() -> None:
    action = Flaky(GoogleFailure(503), TimeoutError())
    assert _run(action) == ("ok", [0.25, 0.5])
    assert action.calls == 3


def test_attempts_are_bounded() -> None:
    action = Flaky(*(GoogleFailure(500) for _ in range(5)))
    with pytest.raises(GoogleFailure) as caught:
        _run(action)
    assert caught.value.status == 500 and action.calls == 3


def test_budget_bounds_retries() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    action = Flaky(*(GoogleFailure(500) for _ in range(5)))
    policy = RetryPolicy(attempts=10, base_delay=1.0, max_delay=4.0, budget_seconds=3.5)
    with pytest.raises(GoogleFailure):
        call_with_retries(action, policy, sleep=sleep, clock=lambda: now[0], jitter=lambda a, b: b)
    assert action.calls == 3  # waits of 1 s and 2 s fit in 3.5 s; a third of 4 s would not


def test_client_errors_and_rate_limits_are_not_retried() -> None:
    for failure in (
        GoogleFailure(404),
        GoogleFailure(429),
        GoogleFailure(403, "rateLimitExceeded"),
    ):
        action = Flaky(failure)
        with pytest.raises(GoogleFailure):
            _run(action)
        assert action.calls == 1


def test_other_exceptions_pass_through() -> None:
    with pytest.raises(KeyError):
        _run(Flaky(KeyError("bug")))


def test_a_call_without_answer_is_not_resent_when_unsafe() -> None:
    action = Flaky(GoogleFailure(0, "TimeoutError"))
    with pytest.raises(GoogleFailure):
        call_with_retries(action, RetryPolicy(), resend_safe=False, sleep=lambda _: None)
    assert action.calls == 1
    # An answered 503 is still retried: Google did not apply it.
    action = Flaky(GoogleFailure(503, "backendError"))
    assert call_with_retries(action, RetryPolicy(), resend_safe=False, sleep=lambda _: None)
    assert action.calls == 2


def test_rate_limits_wait_out_retry_after_only_where_the_policy_allows() -> None:
    limited = GoogleFailure(403, "userRateLimitExceeded", retry_after=7)
    with pytest.raises(GoogleFailure):
        call_with_retries(Flaky(limited), RetryPolicy(), sleep=lambda _: None)
    sleeps: list[float] = []
    policy = RetryPolicy(budget_seconds=60, retry_rate_limits=True)
    action = Flaky(limited, GoogleFailure(429, ""))
    assert call_with_retries(action, policy, sleep=sleeps.append, jitter=lambda a, b: b) == "ok"
    assert sleeps[0] == 7 and action.calls == 3
    # A Retry-After beyond the budget is handed back at once.
    late = Flaky(GoogleFailure(429, "", retry_after=120))
    with pytest.raises(GoogleFailure):
        call_with_retries(late, policy, sleep=sleeps.append)
    assert late.calls == 1
