"""User A never reads or changes user B's calendars or events, on any Calendar API route."""

from __future__ import annotations

import requests

from devstack.drivers.calendar import CalendarApi, FakeCalendar, google_timed
from tests.e2e.conftest import RunningStack, link_user


def test_no_route_reaches_another_users_calendar(stack: RunningStack) -> None:
    fake = FakeCalendar(stack.urls.fake_google)
    alice = link_user(stack, "alice.iso@gmail.example")
    bob = link_user(stack, "bob.iso@gmail.example")
    fake.seed(bob.email, calendars=[{"id": "bobteam@group.calendar.google.com"}])
    (bob_event,) = fake.seed(
        bob.email,
        events=[
            google_timed(
                "2030-01-01T09:00:00Z",
                "2030-01-01T10:00:00Z",
                id="bobsevent001",
                summary="Private",
                recurrence=["RRULE:FREQ=DAILY;COUNT=2"],
            )
        ],
    )["events"]
    before = fake.stored(bob.email)
    as_alice = CalendarApi(stack.function_url("calendar_api"), alice.auth)

    calendars = as_alice.call("GET", "/v1/calendars").json()["items"]
    assert [c["id"] for c in calendars] == [alice.email]

    event_id = bob_event["id"]
    body = {"start": {"date": "2030-01-02"}, "end": {"date": "2030-01-03"}}
    for calendar_id in (bob.email, "bobteam@group.calendar.google.com", "primary"):
        base = f"/v1/calendars/{calendar_id}/events"
        attempts: list[requests.Response] = [
            as_alice.call("GET", f"{base}/{event_id}"),
            as_alice.call("GET", f"{base}/{event_id}_20300101T090000Z"),
            as_alice.call("GET", f"{base}/{event_id}/instances"),
            as_alice.call("PATCH", f"{base}/{event_id}", json={"summary": "Hacked"}),
            as_alice.call("DELETE", f"{base}/{event_id}"),
        ]
        if calendar_id != "primary":
            attempts += [
                as_alice.call("GET", base),
                as_alice.call("POST", base, json=body),
                as_alice.call("POST", base, json={**body, "id": event_id}),
            ]
        for response in attempts:
            assert response.status_code == 404, (calendar_id, response.request.url, response.text)
            assert response.json()["error"]["code"] == "not_found"
            assert "Private" not in response.text
    # Alice's own calendar never shows Bob's event.
    listed = as_alice.call("GET", "/v1/calendars/primary/events").json()["items"]
    assert listed == []
    assert fake.stored(bob.email) == before
    # Bob still sees his own event untouched.
    as_bob = CalendarApi(stack.function_url("calendar_api"), bob.auth)
    mine = as_bob.call("GET", f"/v1/calendars/primary/events/{event_id}").json()
    assert mine["summary"] == "Private" and mine["status"] == "confirmed"
