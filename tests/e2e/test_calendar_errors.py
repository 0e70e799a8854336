"""Google failures map to documented errors with bounded retries; bad input never reaches Google."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from devstack.drivers.calendar import CalendarApi, FakeCalendar, timed
from devstack.drivers.linking import api as account_call
from shared.scopes import FEATURE_SCOPES, Feature
from tests.e2e.conftest import LinkedUser, RunningStack, link_user

LIST = "calendar.calendarList.list"


@pytest.fixture
def fake(stack: RunningStack) -> FakeCalendar:
    return FakeCalendar(stack.urls.fake_google)


@pytest.fixture
def alice(stack: RunningStack, fake: FakeCalendar) -> LinkedUser:
    linked = link_user(stack, "alice.err@gmail.example")
    fake.settle()  # the watch started by linking syncs once; keep it out of the call counts
    fake.clear_calls()
    return linked


@pytest.fixture
def cal(stack: RunningStack, alice: LinkedUser) -> CalendarApi:
    return CalendarApi(stack.function_url("calendar_api"), alice.auth)


@pytest.mark.parametrize(
    ("fault", "status", "code", "calls"),
    [
        ({"status": 403, "error_reason": "insufficientPermissions"}, 403, "scope_not_granted", 1),
        ({"status": 403, "error_reason": "rateLimitExceeded"}, 429, "rate_limited", 1),
        ({"status": 403, "error_reason": "userRateLimitExceeded"}, 429, "rate_limited", 1),
        ({"status": 403, "error_reason": "forbidden"}, 403, "permission_denied", 1),
        ({"status": 429, "retry_after": 7}, 429, "rate_limited", 1),
        ({"status": 404}, 404, "not_found", 1),
        ({"status": 410}, 404, "not_found", 1),
        ({"status": 409}, 409, "conflict", 1),
        ({"status": 412}, 412, "precondition_failed", 1),
        ({"status": 500, "times": 3}, 503, "google_unavailable", 3),
        ({"status": 503, "times": 5}, 503, "google_unavailable", 3),
        ({"status": 0, "times": 3}, 503, "google_unavailable", 3),
    ],
)
def test_google_failures_map_to_documented_errors(
    cal: CalendarApi,
    fake: FakeCalendar,
    fault: dict[str, Any],
    status: int,
    code: str,
    calls: int,
) -> None:
    fake.fault(target=LIST, **fault)
    response = cal.call("GET", "/v1/calendars")
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    if status in (429, 503):
        assert int(response.headers["Retry-After"]) >= 1
    if fault.get("retry_after"):
        assert response.headers["Retry-After"] == "7"
    assert len(fake.crud_calls(LIST)) == calls


def test_transient_failures_are_retried_then_succeed(cal: CalendarApi, fake: FakeCalendar) -> None:
    fake.fault(target=LIST, status=500, times=2)
    assert cal.call("GET", "/v1/calendars").status_code == 200
    assert [c["status"] for c in fake.crud_calls(LIST)] == [500, 500, 200]


def test_timeout_is_retried(cal: CalendarApi, fake: FakeCalendar) -> None:
    fake.fault(target=LIST, status=200, delay_seconds=2.5)
    assert cal.call("GET", "/v1/calendars").status_code == 200
    fake.settle()
    assert len(fake.crud_calls(LIST)) == 2


def test_google_401_refreshes_once_then_marks_relink(
    stack: RunningStack, cal: CalendarApi, alice: LinkedUser, fake: FakeCalendar
) -> None:
    fake.fault(target=LIST, status=401)
    assert cal.call("GET", "/v1/calendars").status_code == 200  # refreshed, then fine
    fake.fault(target=LIST, status=401, times=2)
    response = cal.call("GET", "/v1/calendars")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "google_relink_required"
    status = account_call(stack.function_url("account_api"), "GET", "/v1/google", alice.auth)
    assert status.json()["status"] == "relink_required"
    again = cal.call("GET", "/v1/calendars")
    assert again.json()["error"]["code"] == "google_relink_required"
    assert len(fake.crud_calls(LIST)) == 4  # nothing more once the grant is known dead


def test_revoked_grant_is_relink_required(
    stack: RunningStack, cal: CalendarApi, alice: LinkedUser
) -> None:
    revoked = requests.post(
        f"{stack.urls.fake_google}/_control/revoke_user",
        json={"sub": alice.google["sub"]},
        timeout=10,
    )
    assert revoked.status_code == 200
    response = cal.call("GET", "/v1/calendars/primary/events")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "google_relink_required"


def test_not_linked_and_missing_scope_make_no_google_call(
    stack: RunningStack, fake: FakeCalendar
) -> None:
    unlinked = CalendarApi(stack.function_url("calendar_api"), stack.auth.create_user())
    response = unlinked.call("GET", "/v1/calendars")
    assert response.status_code == 409 and response.json()["error"]["code"] == "google_not_linked"
    mail_only = link_user(
        stack,
        "mail.only@gmail.example",
        ["openid", "email", "profile", *FEATURE_SCOPES[Feature.GMAIL]],
    )
    fake.settle()
    fake.clear_calls()
    limited = CalendarApi(stack.function_url("calendar_api"), mail_only.auth)
    response = limited.call("GET", "/v1/calendars")
    assert response.status_code == 403 and response.json()["error"]["code"] == "scope_not_granted"
    assert fake.crud_calls() == []


def test_missing_or_bad_token_is_401(stack: RunningStack) -> None:
    anonymous = CalendarApi(stack.function_url("calendar_api"), None)
    assert anonymous.call("GET", "/v1/calendars").status_code == 401
    bad = anonymous.call("GET", "/v1/calendars", headers={"Authorization": "Bearer nope"})
    assert bad.json()["error"]["code"] == "unauthenticated"


EVENTS = "/v1/calendars/primary/events"
GOOD = timed("2030-01-01T09:00:00Z", "2030-01-01T10:00:00Z")


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "field"),
    [
        ("GET", "/v1/calendars/not an id/events", {}, "calendar_id"),
        ("GET", "/v1/calendars/a%2F..%2Fb@x.com/events", {}, None),
        ("GET", f"{EVENTS}/UPPERCASE1", {}, "event_id"),
        ("GET", f"{EVENTS}/abc", {}, "event_id"),
        ("GET", f"{EVENTS}/abcde%3Fx", {}, "event_id"),
        ("GET", EVENTS, {"params": {"time_min": "yesterday"}}, "time_min"),
        ("GET", EVENTS, {"params": {"page_size": "ten"}}, "page_size"),
        ("GET", EVENTS, {"params": {"unknown": "1"}}, "unknown"),
        ("GET", EVENTS, {"params": {"q": "x" * 257}}, "q"),
        ("GET", EVENTS, {"params": {"single_events": "false", "order_by": "start_time"}}, None),
        (
            "GET",
            EVENTS,
            {"params": {"time_min": "2030-01-02T00:00:00Z", "time_max": "2030-01-01T00:00:00Z"}},
            None,
        ),
        ("POST", EVENTS, {"json": {**GOOD, "extra": 1}}, "extra"),
        ("POST", EVENTS, {"json": {**GOOD, "id": "Bad_Id"}}, "id"),
        ("POST", EVENTS, {"json": {**GOOD, "description": "x" * 8193}}, "description"),
        (
            "POST",
            EVENTS,
            {"json": {**GOOD, "attendees": [{"email": f"g{i}@example.com"} for i in range(101)]}},
            "attendees",
        ),
        (
            "POST",
            EVENTS,
            {
                "json": {
                    **GOOD,
                    "reminders": {
                        "use_default": False,
                        "overrides": [{"method": "popup", "minutes": i} for i in range(6)],
                    },
                }
            },
            "reminders.overrides",
        ),
        ("POST", EVENTS, {"json": {**GOOD, "attendees": [{"email": "not-an-email"}]}}, None),
        (
            "POST",
            EVENTS,
            {"json": timed("2030-01-01T10:00:00Z", "2030-01-01T09:00:00Z")},
            None,
        ),
        (
            "POST",
            EVENTS,
            {
                "json": {
                    "start": {"date": "2030-01-01"},
                    "end": {"date_time": "2030-01-02T00:00:00Z"},
                }
            },
            None,
        ),
        ("POST", EVENTS, {"json": timed("2030-01-01T09:00:00", "2030-01-01T10:00:00")}, None),
        (
            "POST",
            EVENTS,
            {
                "json": {
                    "start": {"date_time": "2030-01-01T09:00:00Z", "time_zone": "Mars/Base"},
                    "end": {"date_time": "2030-01-01T10:00:00Z"},
                }
            },
            "start.time_zone",
        ),
        ("POST", EVENTS, {"json": {**GOOD, "recurrence": ["DROP TABLE"]}}, None),
        ("POST", EVENTS, {"data": "not json", "headers": {"Content-Type": "text/plain"}}, None),
        ("POST", EVENTS, {"json": GOOD, "params": {"send_updates": "everyone"}}, "send_updates"),
        ("POST", EVENTS, {"json": GOOD, "headers": {"Idempotency-Key": "x"}}, "Idempotency-Key"),
        ("PATCH", f"{EVENTS}/abcdefgh", {"json": {}}, None),
        ("PATCH", f"{EVENTS}/abcdefgh", {"json": {"start": GOOD["start"]}}, None),
        ("PATCH", f"{EVENTS}/abcdefgh", {"json": {"attendees": None}}, None),
        (
            "PATCH",
            f"{EVENTS}/abcdefgh",
            {"json": {"summary": "x"}, "headers": {"If-Match": "<>"}},
            "If-Match",
        ),
        ("DELETE", f"{EVENTS}/abcdefgh", {"params": {"send_updates": "x"}}, "send_updates"),
    ],
)
def test_bad_input_is_400_with_field_and_no_google_call(
    cal: CalendarApi,
    fake: FakeCalendar,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    field: str | None,
) -> None:
    response = cal.call(method, path, **kwargs)
    assert 400 <= response.status_code < 500, response.text
    error = response.json()["error"]
    if response.status_code == 400:
        assert error["code"] == "invalid_request"
        if field is not None:
            assert error["field"] == field, error
    assert fake.crud_calls() == []
