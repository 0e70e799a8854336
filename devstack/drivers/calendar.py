"""Helpers for the Calendar API end-to-end tests: calls, fake seeding, faults, call log."""

from __future__ import annotations

import time
from typing import Any

import requests

from devstack.drivers.clients import AuthUser

# The Calendar methods the Calendar API calls (watches and their syncs are another flow's).
CRUD_METHODS = frozenset(
    {
        "calendar.calendarList.list",
        "calendar.events.list",
        "calendar.events.instances",
        "calendar.events.get",
        "calendar.events.insert",
        "calendar.events.patch",
        "calendar.events.delete",
    }
)


class CalendarApi:
    """The Calendar API function, called as one app user."""

    def __init__(self, base: str, user: AuthUser | None) -> None:
        self.base = base
        self.user = user

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One request; authenticated when this client has a user."""
        headers = dict(kwargs.pop("headers", {}))
        if self.user is not None:
            headers.setdefault("Authorization", f"Bearer {self.user.id_token}")
        return requests.request(method, f"{self.base}{path}", headers=headers, timeout=30, **kwargs)


class FakeCalendar:
    """The fake Google's calendar control routes, faults and call log."""

    def __init__(self, base: str) -> None:
        self.base = base

    def seed(self, email: str, **body: Any) -> dict[str, Any]:
        """Add calendars and events for a Google user."""
        response = requests.post(
            f"{self.base}/_control/calendar/seed", json={"email": email, **body}, timeout=10
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def stored(self, email: str, calendar_id: str = "primary") -> list[dict[str, Any]]:
        """Every stored event of a calendar (cancelled ones too), with recorded sendUpdates."""
        response = requests.get(
            f"{self.base}/_control/calendar/events",
            params={"email": email, "calendarId": calendar_id},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return list(response.json()["events"])

    def fault(self, **fault: Any) -> None:
        """Queue a fault on a discovery method id."""
        response = requests.post(f"{self.base}/_control/faults", json=fault, timeout=10)
        assert response.status_code == 201, response.text

    def crud_calls(self, method: str | None = None) -> list[dict[str, Any]]:
        """Calls of the Calendar CRUD methods, optionally of one method."""
        response = requests.get(f"{self.base}/_control/calls", timeout=10)
        calls = [c for c in response.json()["calls"] if c["method"] in CRUD_METHODS]
        return [c for c in calls if method is None or c["method"] == method]

    def settle(self, quiet: float = 0.6, timeout: float = 15.0) -> None:
        """Wait until the fake gets no call for `quiet` seconds (watch syncs after linking)."""
        deadline = time.monotonic() + timeout
        seen = -1
        while time.monotonic() < deadline:
            count = len(requests.get(f"{self.base}/_control/calls", timeout=10).json()["calls"])
            if count == seen:
                return
            seen = count
            time.sleep(quiet)

    def clear_calls(self) -> None:
        """Forget the call log."""
        requests.delete(f"{self.base}/_control/calls", timeout=10).raise_for_status()


def timed(start: str, end: str, **extra: Any) -> dict[str, Any]:
    """An API event body with timed start and end."""
    return {"start": {"date_time": start}, "end": {"date_time": end}, **extra}


def google_timed(start: str, end: str, **extra: Any) -> dict[str, Any]:
    """A Google event body (for seeding the fake) with timed start and end."""
    return {"start": {"dateTime": start}, "end": {"dateTime": end}, **extra}
