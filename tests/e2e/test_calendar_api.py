"""The Calendar API end to end: running function, Firebase Auth emulator, fake Google Calendar."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from devstack.drivers.calendar import CalendarApi, FakeCalendar, google_timed, timed
from functions.api_document import mobile_api_document
from tests.e2e.conftest import LinkedUser, RunningStack, link_user

EVENTS = "/v1/calendars/primary/events"


@pytest.fixture
def fake(stack: RunningStack) -> FakeCalendar:
    return FakeCalendar(stack.urls.fake_google)


@pytest.fixture
def alice(stack: RunningStack) -> LinkedUser:
    return link_user(stack, "alice.cal@gmail.example")


@pytest.fixture
def api(stack: RunningStack, alice: LinkedUser) -> CalendarApi:
    return CalendarApi(stack.function_url("calendar_api"), alice.auth)


def _ok(response: requests.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return dict(response.json()) if response.content else {}


def test_lists_calendars(api: CalendarApi, alice: LinkedUser, fake: FakeCalendar) -> None:
    fake.seed(
        alice.email,
        calendars=[{"id": "team@group.calendar.google.com", "summary": "Team", "timeZone": "UTC"}],
    )
    items = _ok(api.call("GET", "/v1/calendars"))["items"]
    assert [(c["id"], c["primary"]) for c in items] == [
        (alice.email, True),
        ("team@group.calendar.google.com", False),
    ]
    assert items[1]["summary"] == "Team" and items[1]["access_role"] == "owner"


def test_create_get_patch_delete(api: CalendarApi, alice: LinkedUser, fake: FakeCalendar) -> None:
    body = timed(
        "2030-03-02T10:00:00+09:00",
        "2030-03-02T11:00:00+09:00",
        summary="Design review",
        description="Agenda",
        location="Room 3",
        attendees=[{"email": "guest@example.com", "display_name": "Guest", "optional": True}],
        reminders={"use_default": False, "overrides": [{"method": "popup", "minutes": 15}]},
    )
    body["start"]["time_zone"] = "Asia/Seoul"
    created = api.call("POST", EVENTS, json=body, params={"send_updates": "all"})
    event = _ok(created, 201)
    assert created.headers["ETag"] == event["etag"]
    assert event["start"] == {"date_time": "2030-03-02T10:00:00+09:00", "time_zone": "Asia/Seoul"}
    assert event["attendees"][0]["email"] == "guest@example.com"
    assert event["reminders"] == {
        "use_default": False,
        "overrides": [{"method": "popup", "minutes": 15}],
    }
    assert event["all_day"] is False and event["organizer_email"] == alice.email
    (stored,) = fake.stored(alice.email)
    assert stored["sendUpdates"] == "all" and stored["resource"]["location"] == "Room 3"

    path = f"{EVENTS}/{event['id']}"
    fetched = api.call("GET", path)
    assert _ok(fetched) == event and fetched.headers["ETag"] == event["etag"]

    patched = _ok(api.call("PATCH", path, json={"location": None, "summary": "Review v2"}))
    assert patched["summary"] == "Review v2" and "location" not in patched
    assert patched["description"] == "Agenda" and patched["etag"] != event["etag"]

    assert api.call("DELETE", path, params={"send_updates": "none"}).status_code == 204
    assert _ok(api.call("GET", path), 404)["error"]["code"] == "not_found"


def test_all_day_events_and_time_zones(api: CalendarApi) -> None:
    all_day = {"summary": "Holiday", "start": {"date": "2030-05-05"}, "end": {"date": "2030-05-06"}}
    event = _ok(api.call("POST", EVENTS, json=all_day), 201)
    assert event["all_day"] is True and event["start"] == {"date": "2030-05-05"}
    utc = _ok(
        api.call("POST", EVENTS, json=timed("2030-05-05T01:00:00Z", "2030-05-05T02:00:00Z")), 201
    )
    listed = _ok(
        api.call(
            "GET",
            EVENTS,
            params={
                "time_min": "2030-05-05T00:00:00+09:00",
                "time_max": "2030-05-06T00:00:00+09:00",
                "order_by": "start_time",
            },
        )
    )
    assert [e["id"] for e in listed["items"]] == [event["id"], utc["id"]]


def test_recurring_events_expanded_masters_and_instances(api: CalendarApi) -> None:
    body = timed(
        "2030-03-04T09:00:00-05:00",
        "2030-03-04T09:30:00-05:00",
        summary="Weekly",
        recurrence=["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3"],
    )
    body["start"]["time_zone"] = body["end"]["time_zone"] = "America/New_York"
    master = _ok(api.call("POST", EVENTS, json=body), 201)
    expanded = _ok(api.call("GET", EVENTS, params={"order_by": "start_time"}))["items"]
    assert [e["start"]["date_time"] for e in expanded] == [
        "2030-03-04T09:00:00-05:00",
        "2030-03-11T09:00:00-04:00",
        "2030-03-18T09:00:00-04:00",
    ]
    assert {e["recurring_event_id"] for e in expanded} == {master["id"]}
    masters = _ok(api.call("GET", EVENTS, params={"single_events": "false"}))["items"]
    assert [(e["id"], e["recurrence"]) for e in masters] == [
        (master["id"], ["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3"])
    ]
    second = expanded[1]["id"]
    moved = _ok(api.call("PATCH", f"{EVENTS}/{second}", json={"summary": "Moved"}))
    assert moved["recurring_event_id"] == master["id"]
    instances = _ok(api.call("GET", f"{EVENTS}/{master['id']}/instances", params={"page_size": 2}))
    assert [e["summary"] for e in instances["items"]] == ["Weekly", "Moved"]
    assert instances["next_page_token"]


def test_paging_search_and_updated_min(
    api: CalendarApi, alice: LinkedUser, fake: FakeCalendar
) -> None:
    fake.seed(
        alice.email,
        events=[
            google_timed(f"2030-01-0{d}T09:00:00Z", f"2030-01-0{d}T10:00:00Z", summary=f"Day {d}")
            for d in range(1, 8)
        ],
    )
    pages: list[list[str]] = []
    token = None
    while True:
        params: dict[str, Any] = {"page_size": 3, "order_by": "start_time"}
        if token:
            params["page_token"] = token
        page = _ok(api.call("GET", EVENTS, params=params))
        pages.append([e["summary"] for e in page["items"]])
        token = page.get("next_page_token")
        if not token:
            break
    assert pages == [["Day 1", "Day 2", "Day 3"], ["Day 4", "Day 5", "Day 6"], ["Day 7"]]
    assert len(_ok(api.call("GET", EVENTS, params={"page_size": 100000}))["items"]) == 7
    found = _ok(api.call("GET", EVENTS, params={"q": "day 5"}))["items"]
    assert [e["summary"] for e in found] == ["Day 5"]
    later = _ok(api.call("GET", EVENTS, params={"updated_min": "2100-01-01T00:00:00Z"}))
    assert later["items"] == []


def test_if_match_conflict_answers_412_with_current(api: CalendarApi) -> None:
    event = _ok(
        api.call("POST", EVENTS, json=timed("2030-01-01T09:00:00Z", "2030-01-01T10:00:00Z")), 201
    )
    path = f"{EVENTS}/{event['id']}"
    changed = _ok(
        api.call("PATCH", path, json={"summary": "Theirs"}, headers={"If-Match": event["etag"]})
    )
    stale = api.call("PATCH", path, json={"summary": "Mine"}, headers={"If-Match": event["etag"]})
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "precondition_failed"
    assert stale.json()["current"]["summary"] == "Theirs"
    assert stale.json()["current"]["etag"] == changed["etag"]
    stale_delete = api.call("DELETE", path, headers={"If-Match": event["etag"]})
    assert stale_delete.status_code == 412 and stale_delete.json()["current"]["id"] == event["id"]
    unquoted = changed["etag"].strip('"')
    assert api.call("DELETE", path, headers={"If-Match": unquoted}).status_code == 204


def test_idempotent_create_never_makes_two_events(
    api: CalendarApi, alice: LinkedUser, fake: FakeCalendar
) -> None:
    body = timed("2030-01-01T09:00:00Z", "2030-01-01T10:00:00Z", summary="Once")
    key = {"Idempotency-Key": "0f8e6a52-retry-key"}
    first = _ok(api.call("POST", EVENTS, json=body, headers=key), 201)
    again = _ok(api.call("POST", EVENTS, json=body, headers=key), 200)
    assert again["id"] == first["id"]
    chosen = {**body, "id": "clientchosen0001"}
    assert _ok(api.call("POST", EVENTS, json=chosen), 201)["id"] == "clientchosen0001"
    assert _ok(api.call("POST", EVENTS, json=chosen), 200)["id"] == "clientchosen0001"
    assert len(fake.stored(alice.email)) == 2


def test_create_retried_after_a_timeout_makes_one_event(
    api: CalendarApi, alice: LinkedUser, fake: FakeCalendar
) -> None:
    fake.settle()
    fake.clear_calls()
    # Google answers too late: our retry creates the event or finds it (409), never a second.
    fake.fault(target="calendar.events.insert", status=200, delay_seconds=2.5)
    response = api.call("POST", EVENTS, json=timed("2030-01-01T09:00:00Z", "2030-01-01T10:00:00Z"))
    assert response.status_code in (200, 201), response.text
    fake.settle()
    assert [e["resource"]["id"] for e in fake.stored(alice.email)] == [response.json()["id"]]
    inserts = fake.crud_calls("calendar.events.insert")
    assert sorted(c["status"] for c in inserts) == [200, 409]


def test_delete_twice_is_success(api: CalendarApi) -> None:
    event = _ok(
        api.call("POST", EVENTS, json=timed("2030-01-01T09:00:00Z", "2030-01-01T10:00:00Z")), 201
    )
    path = f"{EVENTS}/{event['id']}"
    assert api.call("DELETE", path).status_code == 204
    assert api.call("DELETE", path).status_code == 204
    assert api.call("DELETE", f"{EVENTS}/missingevent1").status_code == 404
    shown = _ok(api.call("GET", EVENTS, params={"show_deleted": "true"}))["items"]
    assert [(e["id"], e["status"]) for e in shown] == [(event["id"], "cancelled")]


def test_openapi_served_without_auth_by_both_functions(stack: RunningStack) -> None:
    for target in ("calendar_api", "account_api"):
        response = requests.get(f"{stack.function_url(target)}/openapi.json", timeout=10)
        assert response.status_code == 200
        assert response.json() == mobile_api_document()
