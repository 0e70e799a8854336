"""calendar_api in process: the user's Google Calendar through the CalendarGateway port."""

from __future__ import annotations

from typing import Any

import pytest

from shared.errors import AppError, ErrorCode
from shared.google_errors import NO_ANSWER, GoogleFailure
from shared.scopes import Feature
from tests.functions.conftest import World, error_of

EVENTS = "/v1/calendars/primary/events"


def event_body(**changes: Any) -> dict[str, Any]:
    body = {
        "summary": "Standup",
        "start": {"date_time": "2025-01-02T10:00:00+09:00", "time_zone": "Asia/Seoul"},
        "end": {"date_time": "2025-01-02T10:30:00+09:00"},
    }
    return {**body, **changes}


@pytest.fixture
def headers(world: World) -> dict[str, str]:
    return world.linked_user("alice", [Feature.CALENDAR])


def test_list_calendars(world: World, headers: dict[str, str]) -> None:
    response = world.function("calendar_api").get("/v1/calendars", headers=headers)
    assert response.status_code == 200
    assert response.get_json()["items"][0]["id"] == "primary"
    assert world.journal.google == ["calendar.calendarList.list"]


def test_create_get_patch_delete(world: World, headers: dict[str, str]) -> None:
    client = world.function("calendar_api")
    created = client.post(EVENTS, headers=headers, json=event_body())
    assert created.status_code == 201, created.get_json()
    event_id, etag = created.get_json()["id"], created.headers["ETag"]
    assert created.get_json()["summary"] == "Standup"

    got = client.get(f"{EVENTS}/{event_id}", headers=headers)
    assert (got.status_code, got.headers["ETag"]) == (200, etag)

    patched = client.patch(
        f"{EVENTS}/{event_id}", headers={**headers, "If-Match": etag}, json={"summary": "Retro"}
    )
    assert patched.status_code == 200
    assert patched.get_json()["summary"] == "Retro" and patched.headers["ETag"] != etag

    stale = client.patch(
        f"{EVENTS}/{event_id}", headers={**headers, "If-Match": etag}, json={"summary": "Lost"}
    )
    assert (stale.status_code, error_of(stale)["code"]) == (412, "precondition_failed")
    assert stale.get_json()["current"]["summary"] == "Retro"
    stale_delete = client.delete(f"{EVENTS}/{event_id}", headers={**headers, "If-Match": etag})
    assert stale_delete.status_code == 412

    assert client.delete(f"{EVENTS}/{event_id}", headers=headers).status_code == 204
    assert client.delete(f"{EVENTS}/{event_id}", headers=headers).status_code == 204  # 410
    gone = client.get(f"{EVENTS}/{event_id}", headers=headers)
    assert (gone.status_code, error_of(gone)["code"]) == (404, "not_found")

    listing = client.get(f"{EVENTS}?page_size=999&order_by=updated", headers=headers)
    assert listing.status_code == 200 and listing.get_json()["items"] == []


def test_a_retried_create_returns_the_first_event(world: World, headers: dict[str, str]) -> None:
    client = world.function("calendar_api")
    keyed = {**headers, "Idempotency-Key": "retry-key-0001"}
    first = client.post(EVENTS, headers=keyed, json=event_body())
    second = client.post(EVENTS, headers=keyed, json=event_body())
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.get_json()["id"] == second.get_json()["id"]
    assert len(world.calendar.events) == 1

    by_id = client.post(EVENTS, headers=headers, json=event_body(id="clientchosen01"))
    again = client.post(EVENTS, headers=headers, json=event_body(id="clientchosen01"))
    assert (by_id.status_code, again.status_code) == (201, 200)
    client.delete(f"{EVENTS}/clientchosen01", headers=headers)
    recreated = client.post(EVENTS, headers=headers, json=event_body(id="clientchosen01"))
    assert (recreated.status_code, error_of(recreated)["code"]) == (409, "conflict")


def test_instances_of_an_event(world: World, headers: dict[str, str]) -> None:
    client = world.function("calendar_api")
    recurring = event_body(recurrence=["RRULE:FREQ=DAILY;COUNT=3"])
    event_id = client.post(EVENTS, headers=headers, json=recurring).get_json()["id"]
    response = client.get(f"{EVENTS}/{event_id}/instances?page_size=10", headers=headers)
    assert response.status_code == 200
    assert [item["id"] for item in response.get_json()["items"]] == [event_id]


@pytest.mark.parametrize(
    ("failure", "status", "code", "retry_after"),
    [
        (GoogleFailure(401), 401, "google_relink_required", None),
        (
            AppError(ErrorCode.GOOGLE_RELINK_REQUIRED, "Link again."),
            401,
            "google_relink_required",
            None,
        ),
        (GoogleFailure(403, "insufficientPermissions"), 403, "scope_not_granted", None),
        (AppError(ErrorCode.SCOPE_NOT_GRANTED, "Not granted."), 403, "scope_not_granted", None),
        (GoogleFailure(403, "forbidden"), 403, "permission_denied", None),
        (GoogleFailure(404, "notFound"), 404, "not_found", None),
        (GoogleFailure(409, "conflict"), 409, "conflict", None),
        (AppError(ErrorCode.GOOGLE_NOT_LINKED, "Not linked."), 409, "google_not_linked", None),
        (GoogleFailure(400, "badRequest"), 400, "invalid_request", None),
        (GoogleFailure(403, "userRateLimitExceeded"), 429, "rate_limited", "5"),
        (GoogleFailure(429, "", retry_after=17), 429, "rate_limited", "17"),
        (GoogleFailure(503, "backendError"), 503, "google_unavailable", "5"),
        (GoogleFailure(NO_ANSWER, "ReadTimeout"), 503, "google_unavailable", "5"),
    ],
    ids=lambda value: str(value) if not isinstance(value, Exception) else None,
)
def test_google_failures_map_to_our_codes(
    world: World,
    headers: dict[str, str],
    failure: Exception,
    status: int,
    code: str,
    retry_after: str | None,
) -> None:
    world.calendar.failures.append(failure)
    response = world.function("calendar_api").get(EVENTS, headers=headers)
    assert response.status_code == status
    assert error_of(response)["code"] == code
    assert response.headers.get("Retry-After") == retry_after
    assert world.journal.writes == []


def test_a_patch_conflict_and_an_unknown_event(world: World, headers: dict[str, str]) -> None:
    client = world.function("calendar_api")
    missing = client.patch(f"{EVENTS}/missingevent1", headers=headers, json={"summary": "x"})
    assert (missing.status_code, error_of(missing)["code"]) == (404, "not_found")
    world.calendar.failures.append(GoogleFailure(409, "conflict"))
    conflict = client.patch(f"{EVENTS}/missingevent1", headers=headers, json={"summary": "x"})
    assert (conflict.status_code, error_of(conflict)["code"]) == (409, "conflict")


def test_without_a_token_nothing_is_called(world: World) -> None:
    client = world.function("calendar_api")
    for method, path in [("GET", "/v1/calendars"), ("POST", EVENTS), ("DELETE", f"{EVENTS}/abcde")]:
        response = client.open(path, method=method, json=event_body())
        assert (response.status_code, error_of(response)["code"]) == (401, "unauthenticated")
    world.assert_untouched()


def test_openapi_needs_no_token(world: World) -> None:
    assert world.function("calendar_api").get("/openapi.json").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "request_kwargs", "status", "field"),
    [
        ("GET", "/v1/calendars/not%20a%20calendar/events", {}, 400, "calendar_id"),
        ("GET", "/v1/calendars/..%2F..%2Fusers/events", {}, 404, None),  # '/' splits the path
        ("GET", "/v1/calendars/a%40b%40c/events", {}, 400, "calendar_id"),
        # Any id Google gives is accepted (issue 13); only unsafe ones are refused.
        ("GET", f"{EVENTS}/a%20b", {}, 400, "event_id"),
        ("GET", f"{EVENTS}/a%3Bb", {}, 400, "event_id"),
        ("GET", f"{EVENTS}/{'x' * 1025}", {}, 400, "event_id"),
        ("GET", f"{EVENTS}/abcde12345/instances?time_min=soon", {}, 400, "time_min"),
        ("GET", f"{EVENTS}?time_min=2025-01-01", {}, 400, "time_min"),
        ("GET", f"{EVENTS}?page_size=lots", {}, 400, "page_size"),
        ("GET", f"{EVENTS}?order_by=title", {}, 400, "order_by"),
        ("GET", f"{EVENTS}?single_events=maybe", {}, 400, "single_events"),
        ("GET", f"{EVENTS}?single_events=false&order_by=start_time", {}, 400, None),
        (
            "GET",
            f"{EVENTS}?time_min=2025-02-01T00:00:00Z&time_max=2025-01-01T00:00:00Z",
            {},
            400,
            None,
        ),
        ("GET", f"{EVENTS}?page_token=%00", {}, 400, "page_token"),
        ("GET", f"{EVENTS}?fields=items", {}, 400, "fields"),
        ("GET", "/v1/calendars?x=1", {}, 400, "x"),
        ("POST", f"{EVENTS}?send_updates=everyone", {"json": event_body()}, 400, "send_updates"),
        ("POST", EVENTS, {"json": event_body(start=None)}, 400, "start"),
        ("POST", EVENTS, {"json": {"summary": "no times"}}, 400, "start"),
        (
            "POST",
            EVENTS,
            {"json": event_body(end={"date_time": "2025-01-02T09:00:00+09:00"})},
            400,
            None,
        ),
        ("POST", EVENTS, {"json": event_body(end={"date": "2025-01-03"})}, 400, None),
        ("POST", EVENTS, {"json": event_body(summary="s" * 1025)}, 400, "summary"),
        (
            "POST",
            EVENTS,
            {"json": event_body(attendees=[{"email": "nope"}])},
            400,
            "attendees.0.email",
        ),
        ("POST", EVENTS, {"json": event_body(id="Not_Base32")}, 400, "id"),
        ("POST", EVENTS, {"json": event_body(color_id="12")}, 400, "color_id"),
        ("POST", EVENTS, {"json": event_body(unknown=1)}, 400, "unknown"),
        ("POST", EVENTS, {"data": "{", "content_type": "application/json"}, 400, None),
        ("POST", EVENTS, {"data": "<event/>", "content_type": "application/xml"}, 415, None),
        ("POST", EVENTS, {"json": event_body(description="d" * 5000)}, 413, None),
        (
            "POST",
            EVENTS,
            {"json": event_body(), "headers": {"Idempotency-Key": "short"}},
            400,
            "Idempotency-Key",
        ),
        ("PATCH", f"{EVENTS}/abcde12345", {"json": {}}, 400, None),
        ("PATCH", f"{EVENTS}/abcde12345", {"json": {"start": {"date": "2025-01-01"}}}, 400, None),
        ("PATCH", f"{EVENTS}/abcde12345", {"json": {"visibility": None}}, 400, None),
        (
            "PATCH",
            f"{EVENTS}/abcde12345",
            {"json": {"summary": "x"}, "headers": {"If-Match": 'bad etag "'}},
            400,
            "If-Match",
        ),
        ("DELETE", f"{EVENTS}/abcde12345", {"headers": {"If-Match": "x" * 200}}, 400, "If-Match"),
        ("DELETE", f"{EVENTS}/abcde12345?send_updates=1", {}, 400, "send_updates"),
        ("GET", "/v1/calendar", {}, 404, None),
        ("PUT", f"{EVENTS}/abcde12345", {"json": event_body()}, 405, None),
    ],
)
def test_rejected_requests_reach_no_google_port(
    world: World,
    headers: dict[str, str],
    method: str,
    path: str,
    request_kwargs: dict[str, Any],
    status: int,
    field: str | None,
) -> None:
    kwargs = dict(request_kwargs)
    extra = kwargs.pop("headers", {})
    response = world.function("calendar_api").open(
        path, method=method, headers={**headers, **extra}, **kwargs
    )
    assert response.status_code == status, response.get_json()
    if field is not None:
        assert error_of(response)["field"] == field
    world.assert_untouched()
