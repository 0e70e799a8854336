"""The fake Calendar produces Google's untidy shapes (recurring exceptions, cancelled
occurrences, splits, foreign ids, calendar list changes), and the pure event meaning of
``shared.sources.calendar`` tells the right items from them: real googleapiclient over HTTP,
no emulators."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from googleapiclient.discovery import Resource

from shared.ports.sync import IndexWrite, SourceKind, SyncKey
from shared.sources.calendar import EventRecord, full_pass, incremental_pass
from tests.unit.fake_google.test_calendar import calendar_service, seed


@pytest.fixture
def cal(base_url: str, alice: dict[str, Any]) -> Resource:
    return calendar_service(base_url, alice["sub"])


pytestmark = pytest.mark.unit

KEY = SyncKey("uid-1", SourceKind.CALENDAR, "primary")
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


class Follower:
    """What our sync keeps of one calendar: the token and the records, in memory."""

    def __init__(self, cal: Resource, calendar_id: str = "primary") -> None:
        from datetime import UTC, datetime

        self.cal, self.calendar_id, self.now = cal, calendar_id, datetime.now(UTC)
        events, self.token = self._pages(showDeleted=False)
        self.known: dict[str, EventRecord] = {}
        self._apply(full_pass(KEY, events, {}, self.now, report=False).writes)

    def _pages(self, **params: Any) -> tuple[list[Any], str]:
        events: list[Any] = []
        page = None
        while True:
            answer = (
                self.cal.events()
                .list(calendarId=self.calendar_id, pageToken=page, maxResults=250, **params)
                .execute()
            )
            events += answer.get("items", [])
            page = answer.get("nextPageToken")
            if not page:
                return events, str(answer["nextSyncToken"])

    def _apply(self, writes: list[IndexWrite]) -> None:
        for write in writes:
            if write.record is None:
                self.known.pop(write.event_id, None)
            else:
                self.known[write.event_id] = EventRecord.from_dict(write.record)

    def sync(self) -> tuple[list[tuple[str, str | None, str]], list[Any]]:
        """(kind, change, id) of the items of one incremental pass, and the raw events."""
        events, self.token = self._pages(syncToken=self.token, showDeleted=True)
        result = incremental_pass(KEY, events, self.known, self.now)
        self._apply(result.writes)
        return [(i.kind.value, i.change, i.resource_id) for i in result.items], events


def change(base_url: str, sub: str, action: str, **body: Any) -> dict[str, Any]:
    response = requests.post(
        f"{base_url}/_control/calendar/change",
        json={"sub": sub, "action": action, **body},
        timeout=5,
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.mark.parametrize("bare", [False, True])
def test_moved_and_cancelled_occurrences(
    base_url: str, alice: dict[str, Any], cal: Resource, bare: bool
) -> None:
    if bare:
        seed(base_url, sub=alice["sub"], calendars=[{"bareCancellations": True}])
    master = cal.events().insert(calendarId="primary", body=WEEKLY).execute()
    follower = Follower(cal)
    second, third = f"{master['id']}_20261208T010000Z", f"{master['id']}_20261215T010000Z"
    cal.events().patch(
        calendarId="primary",
        eventId=second,
        body={
            "start": {"dateTime": "2026-12-08T15:00:00+09:00", "timeZone": SEOUL},
            "end": {"dateTime": "2026-12-08T16:00:00+09:00", "timeZone": SEOUL},
        },
    ).execute()
    cal.events().delete(calendarId="primary", eventId=third).execute()
    told, events = follower.sync()
    assert told == [
        ("calendar.changed", "moved", second),
        ("calendar.deleted", "cancelled", third),
    ]
    cancelled = next(e for e in events if e["id"] == third)
    expected = (
        {"kind", "id", "status"}
        if bare
        else {
            "kind",
            "etag",
            "id",
            "status",
            "recurringEventId",
            "originalStartTime",
        }
    )
    assert set(cancelled) == expected
    assert follower.sync()[0] == []  # nothing new, nothing told twice


def test_split_restore_and_foreign_ids(base_url: str, alice: dict[str, Any], cal: Resource) -> None:
    master = cal.events().insert(calendarId="primary", body=WEEKLY).execute()
    follower = Follower(cal)
    new = change(
        base_url,
        alice["sub"],
        "split",
        eventId=master["id"],
        instanceId=f"{master['id']}_20261215T010000Z",
        event={"summary": "Weekly sync (new room)"},
    )
    assert new["id"] == f"{master['id']}_R20261215T010000"
    assert new["recurrence"] == ["RRULE:FREQ=WEEKLY;COUNT=2"]
    assert follower.sync()[0] == [
        ("calendar.changed", "modified", master["id"]),
        ("calendar.changed", "created", new["id"]),
    ]
    instances = cal.events().instances(calendarId="primary", eventId=master["id"]).execute()
    assert len(instances["items"]) == 2

    change(base_url, alice["sub"], "insert", event={**WEEKLY, "id": INVITATION, "recurrence": None})
    fetched = cal.events().get(calendarId="primary", eventId=INVITATION).execute()
    assert fetched["id"] == INVITATION
    cal.events().delete(calendarId="primary", eventId=INVITATION).execute()
    cal.events().patch(
        calendarId="primary", eventId=INVITATION, body={"status": "confirmed"}
    ).execute()
    cal.events().delete(calendarId="primary", eventId=INVITATION).execute()
    # One incremental list shows only the last state of the id: it was never told created.
    assert follower.sync()[0] == []


def test_calendar_list_shows_what_to_follow(base_url: str, alice: dict[str, Any]) -> None:
    seed(
        base_url,
        sub=alice["sub"],
        calendars=[
            {"id": "c_team@group.calendar.google.com", "accessRole": "writer"},
            {"id": "boss@corp.example", "accessRole": "freeBusyReader"},
            {"id": "c_old@group.calendar.google.com", "selected": False},
        ],
    )
    cal = calendar_service(base_url, alice["sub"])
    entries = cal.calendarList().list(minAccessRole="reader").execute()["items"]
    assert {(e["id"], e.get("selected", False)) for e in entries} == {
        (alice["email"], True),
        ("c_team@group.calendar.google.com", True),
        ("c_old@group.calendar.google.com", False),
    }
    removed = requests.post(
        f"{base_url}/_control/calendar/calendars/remove",
        json={"sub": alice["sub"], "calendarId": "c_team@group.calendar.google.com"},
        timeout=5,
    )
    assert removed.status_code == 200
    ids = {e["id"] for e in cal.calendarList().list().execute()["items"]}
    assert "c_team@group.calendar.google.com" not in ids and "boss@corp.example" in ids
