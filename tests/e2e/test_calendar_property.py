"""Property: any legal-but-unusual event Google could hold, served by the fake Calendar,
never makes the Calendar API answer 5xx on list or get, and never leaves the sync stuck
(the event reaches the feed, the cursor ends clean).

Hypothesis generates Google event JSON: optional fields missing, unknown extra fields,
attendees without email, unknown enum values, timestamps at the edges of RFC 3339 and of
Python's datetime (years 1 and 9999, offsets up to ±14:00, fractions), very long text.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devstack.drivers.calendar import CalendarApi
from devstack.drivers.pubsub import eventually
from devstack.drivers.watch import calendar_change, feed
from shared.ports.sync import SourceKind, SyncKey
from tests.e2e.conftest import LinkedUser, RunningStack

_serial = itertools.count()

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
ENUMISH = st.one_of(st.sampled_from(["default", "public", "x-new-value", ""]), JSON_SCALARS)


@st.composite
def moments(draw: st.DrawFn) -> tuple[str, str]:
    """A start and end dateTime at the edges: years 1-9999, offsets ±14:00, fractions."""
    offset = timezone(timedelta(minutes=draw(st.integers(-14 * 60, 14 * 60))))
    start = draw(
        st.datetimes(
            min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(offset)
        )
    )
    end = start + timedelta(minutes=draw(st.integers(1, 60 * 24)))
    text = draw(st.sampled_from(["seconds", "milliseconds", "microseconds"]))
    return start.isoformat(timespec=text), end.isoformat(timespec=text)


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """A Google event resource a real calendar could hold (ids are set by the test)."""
    start, end = draw(moments())
    if draw(st.booleans()):
        day = draw(
            st.dates(min_value=datetime(1, 1, 1).date(), max_value=datetime(9999, 12, 30).date())
        )
        times: dict[str, Any] = {
            "start": {"date": day.isoformat()},
            "end": {"date": (day + timedelta(days=1)).isoformat()},
        }
    else:
        times = {"start": {"dateTime": start}, "end": {"dateTime": end}}
    optional = {
        "summary": st.one_of(st.text(max_size=50), st.text(min_size=5000, max_size=20000), JSON),
        "description": st.one_of(st.text(max_size=100), JSON),
        "location": JSON,
        "status": st.sampled_from(["confirmed", "tentative", "x-unknown-status"]),
        "visibility": ENUMISH,
        "transparency": ENUMISH,
        "eventType": ENUMISH,
        "colorId": ENUMISH,
        "created": st.one_of(st.sampled_from(["0001-01-01T00:00:00Z", "not a date"]), JSON),
        "attendees": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "email": st.one_of(st.emails(), JSON),
                    "displayName": st.text(max_size=30),
                    "responseStatus": ENUMISH,
                    "resource": st.booleans(),
                },
            ),
            max_size=4,
        ),
        "reminders": st.one_of(
            JSON,
            st.fixed_dictionaries(
                {"useDefault": JSON},
                optional={
                    "overrides": st.lists(
                        st.fixed_dictionaries({"method": ENUMISH, "minutes": JSON}), max_size=3
                    )
                },
            ),
        ),
        "organizer": st.one_of(JSON, st.fixed_dictionaries({}, optional={"email": JSON})),
        "originalStartTime": JSON,
        "recurringEventId": JSON,
        "hangoutLink": JSON,
    }
    required = {name: st.just(value) for name, value in times.items()}
    event = draw(st.fixed_dictionaries(required, optional=optional))
    extras = draw(
        st.dictionaries(st.from_regex(r"x[A-Za-z]{1,10}", fullmatch=True), JSON, max_size=3)
    )
    return {**extras, **event}


def _cursor_clean(stack: RunningStack, user: LinkedUser) -> bool:
    key = SyncKey(user.uid, SourceKind.CALENDAR, "primary")
    data = stack.db.document(f"users/{user.uid}/cursors/{key.doc_id}").get().to_dict() or {}
    return data.get("dirty") is False and not data.get("lease_owner")


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(event=events())
def test_odd_events_never_5xx_and_never_stick(
    stack: RunningStack, linked: LinkedUser, event: dict[str, Any]
) -> None:
    event_id = f"_prop{next(_serial):04d}x"
    calendar_change(
        stack.urls.fake_google, linked.google["sub"], "raw", event={**event, "id": event_id}
    )
    api = CalendarApi(stack.function_url("calendar_api"), linked.auth)
    listed = api.call("GET", "/v1/calendars/primary/events", params={"single_events": "false"})
    assert listed.status_code == 200, listed.text
    assert event_id in {item["id"] for item in listed.json()["items"]}
    got = api.call("GET", f"/v1/calendars/primary/events/{event_id}")
    assert got.status_code == 200, got.text
    account = stack.function_url("account_api")
    eventually(
        lambda: any(i["resource_id"] == event_id for i in feed(account, linked.auth)), timeout=60
    )
    eventually(lambda: _cursor_clean(stack, linked), timeout=60)
