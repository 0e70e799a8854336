"""Discovery-driven routing and query validation, without a server."""

from __future__ import annotations

import pytest

from devstack.fake_google.discovery import DiscoveryRouter, validate_query
from devstack.fake_google.errors import GoogleApiError

pytestmark = pytest.mark.unit

ROUTER = DiscoveryRouter()


def test_all_registered_apis_load() -> None:
    assert {a.api for a in ROUTER.apis} == {"calendar", "gmail", "drive", "oauth2", "fcm"}
    assert "https://www.googleapis.com/auth/calendar" in ROUTER.known_scopes()


def test_simple_expansion_is_one_encoded_segment() -> None:
    match = ROUTER.match("GET", "/calendar/v3/calendars/team%2Fa%40example.com/events")
    assert match is not None
    assert match.method.method_id == "calendar.events.list"
    assert match.path_params == {"calendarId": "team/a@example.com"}


def test_reserved_expansion_spans_segments_and_honours_patterns() -> None:
    send = ROUTER.match("POST", "/v1/projects/demo/messages:send")
    assert send is not None
    assert send.method.method_id == "fcm.projects.messages.send"
    assert send.path_params == {"parent": "projects/demo"}
    assert ROUTER.match("POST", "/v1/folders/demo/messages:send") is None


def test_literal_paths_beat_parameters() -> None:
    match = ROUTER.match("GET", "/drive/v3/files/generateIds")
    assert match is not None and match.method.method_id == "drive.files.generateIds"
    other = ROUTER.match("GET", "/drive/v3/files/abc123")
    assert other is not None and other.method.method_id == "drive.files.get"


def test_gmail_paths_live_under_the_root() -> None:
    match = ROUTER.match("GET", "/gmail/v1/users/me/history")
    assert match is not None and match.method.method_id == "gmail.users.history.list"


def test_http_method_must_match() -> None:
    assert ROUTER.match("PUT", "/oauth2/v2/userinfo") is None


def test_query_values_are_typed() -> None:
    method = ROUTER.methods["calendar.events.list"]
    query = validate_query(
        method,
        [("maxResults", "5"), ("singleEvents", "true"), ("eventTypes", "default"), ("alt", "json")],
    )
    assert query == {"maxResults": 5, "singleEvents": True, "eventTypes": ["default"]}


def test_out_of_range_integer_is_rejected() -> None:
    method = ROUTER.methods["calendar.events.list"]
    with pytest.raises(GoogleApiError) as error:
        validate_query(method, [("maxResults", "0")])
    assert error.value.code == 400
    assert error.value.reason == "invalidParameter"
