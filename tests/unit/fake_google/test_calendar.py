"""The fake Calendar v3, driven by the real googleapiclient over HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
import requests
from flask import Flask, Response, request
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import Resource, build
from googleapiclient.errors import HttpError

from devstack.fake_google.server import BackgroundServer
from tests.unit.fake_google.conftest import CALENDAR, add_user, calls, exchange_server_auth_code

pytestmark = pytest.mark.unit

ALICE = "alice@example.com"


def calendar_service(base_url: str, sub: str) -> Resource:
    tokens = exchange_server_auth_code(base_url, sub, [CALENDAR])
    return build(
        "calendar",
        "v3",
        credentials=Credentials(token=tokens["access_token"]),
        static_discovery=True,
        client_options={"api_endpoint": f"{base_url}/calendar/v3/"},
    )


@pytest.fixture
def cal(base_url: str, alice: dict[str, Any]) -> Resource:
    return calendar_service(base_url, alice["sub"])


def error_of(caught: pytest.ExceptionInfo[HttpError]) -> tuple[int, str]:
    body = json.loads(caught.value.content)["error"]
    return int(body["code"]), str(body["errors"][0]["reason"])


def timed(start: str, end: str, **extra: Any) -> dict[str, Any]:
    return {"start": {"dateTime": start}, "end": {"dateTime": end}, **extra}


def seed(base_url: str, **body: Any) -> dict[str, Any]:
    response = requests.post(f"{base_url}/_control/calendar/seed", json=body, timeout=5)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_each_user_lists_only_their_own_calendars(base_url: str, cal: Resource) -> None:
    bob = add_user(base_url, "bob@example.com", "Bob Lee")
    seed(base_url, email=ALICE, calendars=[{"id": "team@group.calendar.google.com"}])
    items = cal.calendarList().list().execute()["items"]
    assert [(c["id"], c.get("primary", False)) for c in items] == [
        (ALICE, True),
        ("team@group.calendar.google.com", False),
    ]
    bob_cal = calendar_service(base_url, bob["sub"])
    assert [c["id"] for c in bob_cal.calendarList().list().execute()["items"]] == [
        "bob@example.com"
    ]
    with pytest.raises(HttpError) as caught:
        bob_cal.events().list(calendarId=ALICE).execute()
    assert error_of(caught) == (404, "notFound")


def test_event_lifecycle_etags_and_errors(base_url: str, cal: Resource) -> None:
    events = cal.events()
    body = timed("2030-01-07T09:00:00+09:00", "2030-01-07T10:00:00+09:00", summary="Standup")
    created = events.insert(calendarId="primary", body={**body, "id": "abc12345"}).execute()
    assert created["id"] == "abc12345" and created["status"] == "confirmed"
    assert created["etag"].startswith('"') and created["organizer"]["email"] == ALICE
    with pytest.raises(HttpError) as caught:
        events.insert(calendarId="primary", body={**body, "id": "abc12345"}).execute()
    assert error_of(caught) == (409, "duplicate")
    with pytest.raises(HttpError) as caught:
        events.insert(calendarId="primary", body={**body, "id": "NOT_BASE32"}).execute()
    assert error_of(caught) == (400, "invalid")

    patched = events.patch(
        calendarId="primary", eventId="abc12345", body={"location": "Room 1"}
    ).execute()
    assert patched["summary"] == "Standup" and patched["location"] == "Room 1"
    assert patched["etag"] != created["etag"]
    stale = events.patch(calendarId="primary", eventId="abc12345", body={"summary": "x"})
    stale.headers["If-Match"] = created["etag"]
    with pytest.raises(HttpError) as caught:
        stale.execute()
    assert error_of(caught) == (412, "conditionNotMet")
    fresh = events.update(
        calendarId="primary", eventId="abc12345", body={**body, "summary": "Replaced"}
    )
    fresh.headers["If-Match"] = patched["etag"]
    replaced = fresh.execute()
    assert replaced["summary"] == "Replaced" and "location" not in replaced

    events.delete(calendarId="primary", eventId="abc12345", sendUpdates="all").execute()
    assert events.get(calendarId="primary", eventId="abc12345").execute()["status"] == "cancelled"
    with pytest.raises(HttpError) as caught:
        events.delete(calendarId="primary", eventId="abc12345").execute()
    assert error_of(caught) == (410, "deleted")
    with pytest.raises(HttpError) as caught:
        events.delete(calendarId="primary", eventId="zzzzz").execute()
    assert error_of(caught) == (404, "notFound")
    stored = requests.get(
        f"{base_url}/_control/calendar/events", params={"email": ALICE}, timeout=5
    ).json()["events"]
    assert stored[0]["sendUpdates"] == "all"


def test_times_are_validated_like_google(cal: Resource) -> None:
    cases: list[tuple[dict[str, Any], tuple[int, str]]] = [
        (timed("2030-01-07T10:00:00Z", "2030-01-07T09:00:00Z"), (400, "timeRangeEmpty")),
        ({"start": {"dateTime": "2030-01-07T10:00:00Z"}}, (400, "required")),
        (
            {"start": {"date": "2030-01-07"}, "end": {"dateTime": "2030-01-07T10:00:00Z"}},
            (400, "invalid"),
        ),
        (
            {
                "start": {"dateTime": "2030-01-07T10:00:00", "timeZone": "Mars/Olympus"},
                "end": {"dateTime": "2030-01-07T11:00:00", "timeZone": "Mars/Olympus"},
            },
            (400, "invalid"),
        ),
        ({"start": {"date": "2030-01-07"}, "end": {"date": "2030-01-07"}}, (400, "timeRangeEmpty")),
    ]
    for body, expected in cases:
        with pytest.raises(HttpError) as caught:
            cal.events().insert(calendarId="primary", body=body).execute()
        assert error_of(caught) == expected, body
    all_day = cal.events().insert(
        calendarId="primary", body={"start": {"date": "2030-01-07"}, "end": {"date": "2030-01-08"}}
    )
    assert all_day.execute()["start"] == {"date": "2030-01-07"}


def test_recurring_events_expand_in_wall_clock_time(cal: Resource) -> None:
    # Weekly on Monday and Wednesday 09:00 New York time, across the March DST change.
    cal.events().insert(
        calendarId="primary",
        body={
            "id": "series001",
            "summary": "Sync",
            "start": {"dateTime": "2030-03-04T09:00:00-05:00", "timeZone": "America/New_York"},
            "end": {"dateTime": "2030-03-04T09:30:00-05:00", "timeZone": "America/New_York"},
            "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=5"],
        },
    ).execute()
    listed = (
        cal.events()
        .list(calendarId="primary", singleEvents=True, orderBy="startTime")
        .execute()["items"]
    )
    assert [e["start"]["dateTime"] for e in listed] == [
        "2030-03-04T09:00:00-05:00",
        "2030-03-06T09:00:00-05:00",
        "2030-03-11T09:00:00-04:00",
        "2030-03-13T09:00:00-04:00",
        "2030-03-18T09:00:00-04:00",
    ]
    assert {e["recurringEventId"] for e in listed} == {"series001"}
    assert listed[2]["id"] == "series001_20300311T130000Z"
    masters = cal.events().list(calendarId="primary").execute()["items"]
    assert [e["id"] for e in masters] == ["series001"] and masters[0]["recurrence"]

    # Changing one instance makes an exception; deleting another hides it.
    moved = cal.events().patch(
        calendarId="primary", eventId=listed[1]["id"], body={"summary": "Moved"}
    )
    assert moved.execute()["recurringEventId"] == "series001"
    cal.events().delete(calendarId="primary", eventId=listed[2]["id"]).execute()
    instances = cal.events().instances(calendarId="primary", eventId="series001").execute()
    assert [e.get("summary") for e in instances["items"]] == ["Sync", "Moved", "Sync", "Sync"]


@pytest.mark.parametrize(
    ("rule", "start", "expected"),
    [
        (
            "RRULE:FREQ=DAILY;INTERVAL=2;UNTIL=20300107",
            "2030-01-01",
            ["2030-01-01", "2030-01-03", "2030-01-05", "2030-01-07"],
        ),
        (
            "RRULE:FREQ=MONTHLY;BYDAY=-1FR;COUNT=3",
            "2030-01-25",
            ["2030-01-25", "2030-02-22", "2030-03-29"],
        ),
        ("RRULE:FREQ=MONTHLY;COUNT=3", "2030-01-31", ["2030-01-31", "2030-03-31", "2030-05-31"]),
    ],
)
def test_all_day_rules(cal: Resource, rule: str, start: str, expected: list[str]) -> None:
    end = (date.fromisoformat(start) + timedelta(days=1)).isoformat()
    cal.events().insert(
        calendarId="primary",
        body={"start": {"date": start}, "end": {"date": end}, "recurrence": [rule]},
    ).execute()
    items = cal.events().list(calendarId="primary", singleEvents=True).execute()["items"]
    assert [e["start"]["date"] for e in items] == expected


def test_window_text_paging_and_sync_tokens(base_url: str, cal: Resource) -> None:
    for day in range(1, 6):
        cal.events().insert(
            calendarId="primary",
            body=timed(
                f"2030-01-0{day}T09:00:00Z",
                f"2030-01-0{day}T10:00:00Z",
                summary=f"Day {day}",
                description="lunch" if day == 3 else "work",
            ),
        ).execute()
    window = cal.events().list(
        calendarId="primary",
        singleEvents=True,
        orderBy="startTime",
        timeMin="2030-01-02T09:30:00Z",
        timeMax="2030-01-04T09:00:00Z",
    )
    assert [e["summary"] for e in window.execute()["items"]] == ["Day 2", "Day 3"]
    found = cal.events().list(calendarId="primary", q="LUNCH").execute()["items"]
    assert [e["summary"] for e in found] == ["Day 3"]

    pages, token, sync_token = [], None, None
    while True:
        page = (
            cal.events()
            .list(calendarId="primary", maxResults=2, pageToken=token, singleEvents=True)
            .execute()
        )
        pages.append([e["summary"] for e in page["items"]])
        token = page.get("nextPageToken")
        if token is None:
            sync_token = page["nextSyncToken"]
            break
        assert "nextSyncToken" not in page
    assert pages == [["Day 1", "Day 2"], ["Day 3", "Day 4"], ["Day 5"]]

    first = cal.events().list(calendarId="primary", q="Day 1").execute()["items"][0]
    cal.events().delete(calendarId="primary", eventId=first["id"]).execute()
    cal.events().insert(
        calendarId="primary", body=timed("2030-02-01T09:00:00Z", "2030-02-01T10:00:00Z")
    ).execute()
    changes = cal.events().list(calendarId="primary", syncToken=sync_token).execute()
    assert [e["status"] for e in changes["items"]] == ["cancelled", "confirmed"]
    again = cal.events().list(calendarId="primary", syncToken=changes["nextSyncToken"]).execute()
    assert again["items"] == []
    updated_min = cal.events().list(calendarId="primary", updatedMin=first["updated"])
    assert len(updated_min.execute()["items"]) >= 4

    expired = requests.post(
        f"{base_url}/_control/calendar/sync_tokens/expire", json={"email": ALICE}, timeout=5
    )
    assert expired.status_code == 200
    for token_value in (again["nextSyncToken"], "garbage"):
        with pytest.raises(HttpError) as caught:
            cal.events().list(calendarId="primary", syncToken=token_value).execute()
        assert error_of(caught) == (410, "fullSyncRequired")
    with pytest.raises(HttpError) as caught:
        cal.events().list(calendarId="primary", syncToken="x", q="y").execute()
    assert error_of(caught)[0] == 400


def test_injected_sync_token_fault(base_url: str, cal: Resource) -> None:
    fault = {
        "target": "calendar.events.list",
        "status": 410,
        "error_reason": "fullSyncRequired",
    }
    assert requests.post(f"{base_url}/_control/faults", json=fault, timeout=5).status_code == 201
    with pytest.raises(HttpError) as caught:
        cal.events().list(calendarId="primary").execute()
    assert error_of(caught) == (410, "fullSyncRequired")
    assert [c["status"] for c in calls(base_url, method="calendar.events.list")] == [410]


class Receiver:
    """A webhook receiver recording the notifications it gets."""

    def __init__(self) -> None:
        self.received: list[dict[str, str]] = []
        self.bodies: list[bytes] = []
        self.lock = threading.Lock()
        app = Flask("receiver")

        @app.post("/hook")
        def hook() -> Response:
            with self.lock:
                self.received.append(
                    {k: v for k, v in request.headers.items() if k.startswith("X-Goog")}
                )
                self.bodies.append(request.get_data())
            return Response(status=200)

        self.server = BackgroundServer(app)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, str]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"got {len(self.received)} notifications, wanted {count}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    with hook.server:
        yield hook


def test_watch_notifies_sync_then_every_change(
    base_url: str, cal: Resource, receiver: Receiver
) -> None:
    channel = (
        cal.events()
        .watch(
            calendarId="primary",
            body={
                "id": "channel-1",
                "type": "web_hook",
                "address": f"{receiver.server.base_url}/hook",
                "token": "secret-token",
            },
        )
        .execute()
    )
    assert channel["kind"] == "api#channel" and channel["resourceId"]
    assert int(channel["expiration"]) > time.time() * 1000 + 6 * 24 * 3600 * 1000
    (sync,) = receiver.wait_for(1)
    assert sync["X-Goog-Resource-State"] == "sync" and sync["X-Goog-Message-Number"] == "1"
    assert sync["X-Goog-Channel-Token"] == "secret-token"
    assert sync["X-Goog-Channel-Expiration"].endswith("GMT")
    assert sync["X-Goog-Resource-Id"] == channel["resourceId"]

    cal.events().insert(
        calendarId="primary", body=timed("2030-01-01T09:00:00Z", "2030-01-01T10:00:00Z")
    ).execute()
    change = requests.post(
        f"{base_url}/_control/calendar/change",
        json={
            "email": ALICE,
            "action": "insert",
            "event": timed("2030-01-02T09:00:00Z", "2030-01-02T10:00:00Z"),
        },
        timeout=5,
    )
    assert change.status_code == 200, change.text
    received = receiver.wait_for(3)
    assert [n["X-Goog-Resource-State"] for n in received] == ["sync", "exists", "exists"]
    assert sorted(int(n["X-Goog-Message-Number"]) for n in received) == [1, 2, 3]
    assert receiver.bodies == [b"", b"", b""]

    cal.channels().stop(body={"id": "channel-1", "resourceId": channel["resourceId"]}).execute()
    cal.events().insert(
        calendarId="primary", body=timed("2030-01-03T09:00:00Z", "2030-01-03T10:00:00Z")
    ).execute()
    time.sleep(0.3)
    assert len(receiver.received) == 3


def test_dropped_and_duplicated_notifications(
    base_url: str, cal: Resource, receiver: Receiver
) -> None:
    body = {"id": "ch-2", "type": "web_hook", "address": f"{receiver.server.base_url}/hook"}
    cal.events().watch(calendarId="primary", body=body).execute()
    receiver.wait_for(1)
    control = f"{base_url}/_control/calendar/channels/ch-2"
    assert requests.post(f"{control}/drop_next", json={}, timeout=5).status_code == 200
    assert requests.post(f"{control}/duplicate_next", json={}, timeout=5).status_code == 200
    insert: Callable[[str], Any] = lambda day: (  # noqa: E731
        cal.events()
        .insert(
            calendarId="primary",
            body=timed(f"2030-01-0{day}T09:00:00Z", f"2030-01-0{day}T10:00:00Z"),
        )
        .execute()
    )
    insert("1")
    insert("2")
    received = receiver.wait_for(3)
    assert sorted(n["X-Goog-Message-Number"] for n in received) == ["1", "3", "3"]
    assert "X-Goog-Channel-Token" not in received[0]
    listed = requests.get(f"{base_url}/_control/calendar/channels", timeout=5).json()["channels"]
    assert listed[0]["id"] == "ch-2" and listed[0]["messageNumber"] == 3
