"""Every event shape Google sends, end to end: a change in the fake Calendar (as another
client makes it) → channel push → calendar_webhook → sync → feed; and the Calendar API over
ids and values our own clients would never produce."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.drivers.calendar import CalendarApi
from devstack.drivers.pubsub import eventually, wait_len
from devstack.drivers.watch import calendar_change, calendar_control, feed
from tests.e2e.conftest import LinkedUser, RunningStack

INVITATION = (
    "_60q30c1g60o30e1i60o4ac1g60rj8gpl88rj2c1h84s34h9g60s30c1g60o30c1g6co32c9k74p3gd9g64o30c1g"
)
SEOUL = "Asia/Seoul"
WEEKLY = {
    "summary": "Weekly sync",
    "start": {"dateTime": "2026-12-01T10:00:00+09:00", "timeZone": SEOUL},
    "end": {"dateTime": "2026-12-01T11:00:00+09:00", "timeZone": SEOUL},
    "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"],
}
SINGLE = {
    "summary": "Budget review",
    "start": {"dateTime": "2026-12-03T10:00:00+09:00"},
    "end": {"dateTime": "2026-12-03T11:00:00+09:00"},
}


def _change(stack: RunningStack, user: LinkedUser, action: str, **body: Any) -> dict[str, Any]:
    return calendar_change(stack.urls.fake_google, user.google["sub"], action, **body)


def _feed(stack: RunningStack, user: LinkedUser) -> list[dict[str, Any]]:
    return feed(stack.function_url("account_api"), user.auth)


def _told(items: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(i["kind"], i["change"], i["resource_id"]) for i in items}


def _occurrence(master: dict[str, Any], stamp: str) -> str:
    return f"{master['id']}_{stamp}"


@pytest.mark.parametrize("bare", [False, True], ids=["google_fields", "id_and_status_only"])
def test_cancelled_and_moved_occurrences_are_told(
    stack: RunningStack, linked: LinkedUser, bare: bool
) -> None:
    if bare:  # cancelled events listed with nothing but id and status
        calendar_control(
            stack.urls.fake_google,
            "seed",
            linked.google["sub"],
            calendars=[{"bareCancellations": True}],
        )
    master = _change(stack, linked, "insert", event=WEEKLY)
    wait_len(lambda: _feed(stack, linked), 1)
    second, third = _occurrence(master, "20261208T010000Z"), _occurrence(master, "20261215T010000Z")
    _change(
        stack,
        linked,
        "patch",
        eventId=second,
        event={
            "start": {"dateTime": "2026-12-08T15:00:00+09:00", "timeZone": SEOUL},
            "end": {"dateTime": "2026-12-08T16:00:00+09:00", "timeZone": SEOUL},
        },
    )
    _change(stack, linked, "delete", eventId=third)
    items = wait_len(lambda: _feed(stack, linked), 3)
    assert _told(items) == {
        ("calendar.changed", "created", master["id"]),
        ("calendar.changed", "moved", second),
        ("calendar.deleted", "cancelled", third),
    }
    deleted = next(i for i in items if i["resource_id"] == third)
    assert deleted["title"] == "Weekly sync" and deleted["calendar_id"] == "primary"


def test_whole_series_cancelled(stack: RunningStack, linked: LinkedUser) -> None:
    master = _change(stack, linked, "insert", event=WEEKLY)
    wait_len(lambda: _feed(stack, linked), 1)
    _change(stack, linked, "delete", eventId=master["id"])
    items = wait_len(lambda: _feed(stack, linked), 2)
    assert ("calendar.deleted", "cancelled", master["id"]) in _told(items)
    assert items[0]["title"] == "Weekly sync"


def test_this_and_following_split(stack: RunningStack, linked: LinkedUser) -> None:
    master = _change(stack, linked, "insert", event=WEEKLY)
    wait_len(lambda: _feed(stack, linked), 1)
    new = _change(
        stack,
        linked,
        "split",
        eventId=master["id"],
        instanceId=_occurrence(master, "20261215T010000Z"),
        event={"summary": "Weekly sync (new room)"},
    )
    assert new["id"] == f"{master['id']}_R20261215T010000"
    items = wait_len(lambda: _feed(stack, linked), 3)
    assert _told(items) == {
        ("calendar.changed", "created", master["id"]),
        ("calendar.changed", "modified", master["id"]),
        ("calendar.changed", "created", new["id"]),
    }


def test_delete_restore_delete_is_four_items(stack: RunningStack, linked: LinkedUser) -> None:
    event = _change(stack, linked, "insert", event=SINGLE)
    wait_len(lambda: _feed(stack, linked), 1)
    _change(stack, linked, "delete", eventId=event["id"])
    wait_len(lambda: _feed(stack, linked), 2)
    _change(stack, linked, "patch", eventId=event["id"], event={"status": "confirmed"})
    wait_len(lambda: _feed(stack, linked), 3)
    _change(stack, linked, "delete", eventId=event["id"])
    items = wait_len(lambda: _feed(stack, linked), 4)
    assert [(i["kind"], i["change"], i["title"]) for i in reversed(items)] == [
        ("calendar.changed", "created", "Budget review"),
        ("calendar.deleted", "cancelled", "Budget review"),
        ("calendar.changed", "restored", "Budget review"),
        ("calendar.deleted", "cancelled", "Budget review"),
    ]
    assert len({i["id"] for i in items}) == 4


def test_invitation_ids_work_for_get_patch_delete_and_sync(
    stack: RunningStack, linked: LinkedUser
) -> None:
    _change(stack, linked, "insert", event={**SINGLE, "id": INVITATION})
    wait_len(lambda: _feed(stack, linked), 1)
    api = CalendarApi(stack.function_url("calendar_api"), linked.auth)
    path = f"/v1/calendars/primary/events/{INVITATION}"
    got = api.call("GET", path)
    assert got.status_code == 200, got.text
    assert got.json()["id"] == INVITATION
    patched = api.call("PATCH", path, json={"summary": "Budget review (moved room)"})
    assert patched.status_code == 200, patched.text
    assert api.call("DELETE", path).status_code == 204
    assert api.call("GET", path).status_code == 404
    # The patch and the delete may reach one sync pass: then only the deletion is told.
    items = eventually(
        lambda: (
            [i for i in _feed(stack, linked) if i["kind"] == "calendar.deleted"]
            and _feed(stack, linked)
        )
    )
    assert {(i["kind"], i["resource_id"]) for i in items} == {
        ("calendar.changed", INVITATION),
        ("calendar.deleted", INVITATION),
    }
    for unsafe in ("a%20b", "a%3Bb", "x" * 1025):
        answer = api.call("GET", f"/v1/calendars/primary/events/{unsafe}")
        assert answer.status_code == 400 and answer.json()["error"]["field"] == "event_id"


ODD = {
    "id": "oddevent01",
    "status": "confirmed",
    "summary": "Odd values",
    "start": {"dateTime": "2026-12-04T10:00:00Z"},
    "end": {"dateTime": "2026-12-04T11:00:00Z"},
    "attendees": [
        {"displayName": "Room 7F"},
        {"email": 42, "responseStatus": "needsAction"},
        {"email": "kim.minji@corp.example", "responseStatus": "perhaps"},
    ],
    "reminders": {"useDefault": "sometimes", "overrides": [{"method": "sms", "minutes": "soon"}]},
    "created": "not a date",
    "colorId": 12,
    "visibility": "secretive",
    "organizer": "someone",
    "eventType": "somethingNew",
    "futureField": {"nested": [1, 2, 3]},
}


def test_odd_values_do_not_break_list_get_or_sync(stack: RunningStack, linked: LinkedUser) -> None:
    _change(stack, linked, "raw", event=ODD)
    items = wait_len(lambda: _feed(stack, linked), 1)
    assert items[0]["resource_id"] == ODD["id"] and items[0]["title"] == "Odd values"
    api = CalendarApi(stack.function_url("calendar_api"), linked.auth)
    listed = api.call("GET", "/v1/calendars/primary/events")
    assert listed.status_code == 200, listed.text
    (event,) = listed.json()["items"]
    got = api.call("GET", f"/v1/calendars/primary/events/{ODD['id']}")
    assert got.status_code == 200 and got.json() == event
    assert event["attendees"] == [{"email": "kim.minji@corp.example", "response_status": "perhaps"}]
    assert "created" not in event and "color_id" not in event
    assert event["visibility"] == "secretive"
    log = (stack.workdir / "logs" / "calendar_api.log").read_text()
    dropped = [line for line in log.splitlines() if "calendar response values dropped" in line]
    assert dropped and '"dropped_values"' in dropped[-1]
    assert "kim.minji" not in "".join(dropped) and "Odd values" not in "".join(dropped)
