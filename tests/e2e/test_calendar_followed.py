"""Every calendar of the user's list is followed: secondary calendars get a channel, a
cursor and renewal; calendars added to, removed from or unticked in the list start or stop
being followed with the renewal tick; pushes say which calendar and can be turned off per
calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from devstack.drivers.linking import api
from devstack.drivers.maintenance import make_due, tick
from devstack.drivers.pubsub import collect, eventually, wait_len
from devstack.drivers.push import FakeFcm, device_body, handled, new_token, put_device
from devstack.drivers.watch import calendar_change, calendar_control, feed
from shared.ports.sync import SourceKind, SyncKey
from tests.e2e.conftest import LinkedUser, RunningStack

TEAM = "c_team.ops@group.calendar.google.com"
HOLIDAYS = "ko.south_korea#holiday@group.v.calendar.google.com"
BUSY_ONLY = "boss@corp.example"
UNTICKED = "c_old.project@group.calendar.google.com"
EVENT = {
    "summary": "Ops standup",
    "start": {"dateTime": "2026-12-01T10:00:00+09:00"},
    "end": {"dateTime": "2026-12-01T10:15:00+09:00"},
}


def _channels(stack: RunningStack) -> list[dict[str, Any]]:
    response = requests.get(f"{stack.urls.fake_google}/_control/calendar/channels", timeout=5)
    return list(response.json()["channels"])


def _live_calendars(stack: RunningStack) -> set[str]:
    return {c["calendarId"] for c in _channels(stack) if not c["stopped"]}


def _renew(stack: RunningStack, user: LinkedUser) -> None:
    """An hour later: the user's calendar sources are due for their calendar list re-read;
    the scheduler's tick claims them and a maintenance worker re-reads the list."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    make_due(stack.db, user.uid, "calendar", calendar_list_at=past)
    tick(stack.pubsub)


def _seed(stack: RunningStack, user: LinkedUser, calendars: list[dict[str, Any]]) -> None:
    calendar_control(stack.urls.fake_google, "seed", user.google["sub"], calendars=calendars)


def _cursor_exists(stack: RunningStack, user: LinkedUser, calendar_id: str) -> bool:
    key = SyncKey(user.uid, SourceKind.CALENDAR, calendar_id)
    return bool(stack.db.document(f"users/{user.uid}/cursors/{key.doc_id}").get().exists)


def _outcome(stack: RunningStack, job_id: str) -> str:
    done = eventually(lambda: handled(stack.workdir, job_id), timeout=30)
    return str(done[-1]["outcome"])


def test_calendars_added_are_followed_and_removed_ones_stopped(
    stack: RunningStack, linked: LinkedUser
) -> None:
    assert _live_calendars(stack) == {linked.email}
    _seed(
        stack,
        linked,
        [
            {"id": TEAM, "summary": "Team ops", "accessRole": "writer"},
            {"id": HOLIDAYS, "summary": "Holidays", "accessRole": "reader"},
            {"id": BUSY_ONLY, "accessRole": "freeBusyReader"},
            {"id": UNTICKED, "accessRole": "owner", "selected": False},
        ],
    )
    _renew(stack, linked)
    eventually(lambda: _live_calendars(stack) == {linked.email, TEAM, HOLIDAYS}, timeout=30)
    calendar_change(
        stack.urls.fake_google, linked.google["sub"], "insert", calendarId=TEAM, event=EVENT
    )
    (item,) = wait_len(lambda: feed(stack.function_url("account_api"), linked.auth), 1)
    assert (item["calendar_id"], item["title"], item["change"]) == (TEAM, "Ops standup", "created")
    assert len(collect(stack.push_jobs, 1)) == 1

    # The user leaves the team calendar and unticks the holidays.
    calendar_control(
        stack.urls.fake_google, "calendars/remove", linked.google["sub"], calendarId=TEAM
    )
    _seed(stack, linked, [{"id": HOLIDAYS, "selected": False}])
    _renew(stack, linked)
    eventually(lambda: not _cursor_exists(stack, linked, HOLIDAYS), timeout=30)
    assert _live_calendars(stack) == {linked.email}
    assert not _cursor_exists(stack, linked, TEAM)
    assert _cursor_exists(stack, linked, "primary")
    events = stack.db.collection_group("events").stream()
    assert all(TEAM not in doc.reference.path for doc in events)


def test_unlink_stops_every_calendar(stack: RunningStack, linked: LinkedUser) -> None:
    _seed(stack, linked, [{"id": TEAM, "accessRole": "writer"}])
    _renew(stack, linked)
    eventually(lambda: _live_calendars(stack) == {linked.email, TEAM}, timeout=30)
    response = api(stack.function_url("account_api"), "DELETE", "/v1/google", linked.auth)
    assert response.status_code == 204
    assert _live_calendars(stack) == set()
    assert list(stack.db.collection_group("events").stream()) == []


def test_pushes_name_the_calendar_and_can_be_muted_per_calendar(
    stack: RunningStack, linked: LinkedUser
) -> None:
    _seed(stack, linked, [{"id": TEAM, "accessRole": "writer"}])
    _renew(stack, linked)
    eventually(lambda: _live_calendars(stack) == {linked.email, TEAM}, timeout=30)
    account = stack.function_url("account_api")
    token = new_token(stack.seen)
    assert put_device(account, linked.auth, "install-cal", device_body(token)).status_code == 201
    muted = requests.put(
        f"{account}/v1/preferences",
        json={"muted_calendars": [TEAM]},
        headers={"Authorization": f"Bearer {linked.auth.id_token}"},
        timeout=20,
    )
    assert muted.status_code == 200 and muted.json()["muted_calendars"] == [TEAM]
    sub = linked.google["sub"]
    calendar_change(stack.urls.fake_google, sub, "insert", calendarId=TEAM, event=EVENT)
    calendar_change(stack.urls.fake_google, sub, "insert", event={**EVENT, "summary": "Dentist"})
    jobs = collect(stack.push_jobs, 2)
    outcomes = {job["item_id"]: _outcome(stack, job["job_id"]) for job in jobs}
    items = {i["id"]: i for i in feed(account, linked.auth)}
    assert {items[item_id]["calendar_id"]: outcome for item_id, outcome in outcomes.items()} == {
        TEAM: "calendar_off",
        "primary": "sent",
    }
    (message,) = FakeFcm(stack.urls.fake_google).messages(token)
    assert message["message"]["data"]["calendar_id"] == "primary"
    bad = requests.put(
        f"{account}/v1/preferences",
        json={"muted_calendars": ["not a calendar"]},
        headers={"Authorization": f"Bearer {linked.auth.id_token}"},
        timeout=20,
    )
    assert bad.status_code == 400 and bad.json()["error"]["field"].startswith("muted_calendars")
