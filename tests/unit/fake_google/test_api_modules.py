"""The seam for API modules: handlers by method id, module data, control routes, defer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from devstack.fake_google import FakeGoogleConfig, OAuthClient, create_app
from devstack.fake_google.errors import GoogleApiError
from devstack.fake_google.registry import ApiModule, ApiRequest, ControlRequest

pytestmark = pytest.mark.unit

CALENDAR = "https://www.googleapis.com/auth/calendar"


@dataclass
class CalendarData:
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    notified: list[str] = field(default_factory=list)


calendar: ApiModule[CalendarData] = ApiModule("calendar", CalendarData)


@calendar.handler("calendar.events.insert")
def insert_event(request: ApiRequest, data: CalendarData) -> dict[str, Any]:
    event = {**request.body, "id": f"e{len(data.events) + 1}", "creator": request.caller.email}
    data.events[event["id"]] = event
    request.defer(lambda: data.notified.append(event["id"]))
    return event


@calendar.handler("calendar.events.get")
def get_event(request: ApiRequest, data: CalendarData) -> dict[str, Any]:
    event = data.events.get(request.path_params["eventId"])
    if event is None:
        raise GoogleApiError(404, "Not Found", "notFound")
    return {**event, "maxAttendees": request.query.get("maxAttendees")}


@calendar.handler("calendar.events.delete")
def delete_event(request: ApiRequest, data: CalendarData) -> None:
    data.events.pop(request.path_params["eventId"], None)


@calendar.handler("calendar.events.list")
def broken(request: ApiRequest, data: CalendarData) -> dict[str, Any]:
    raise RuntimeError("bug in the fake")


@calendar.control("/events/count", methods=["GET"])
def count_events(request: ControlRequest, data: CalendarData) -> dict[str, Any]:
    return {"count": len(data.events), "notified": data.notified}


def body(response: TestResponse) -> Any:
    """The JSON body of a test client response."""
    data = response.get_json()
    assert data is not None
    return data


@pytest.fixture
def client() -> FlaskClient:
    config = FakeGoogleConfig(clients=(OAuthClient("cid", "secret", ()),))
    return create_app(config, modules=[calendar]).test_client()


@pytest.fixture
def headers(client: FlaskClient) -> dict[str, str]:
    sub = body(client.post("/_control/users", json={"email": "a@example.com"}))["sub"]
    code = client.post("/_control/server_auth_code", json={"sub": sub, "scopes": [CALENDAR]})
    tokens = client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": body(code)["code"],
            "redirect_uri": "",
            "client_id": "cid",
            "client_secret": "secret",
        },
    )
    return {"Authorization": f"Bearer {body(tokens)['access_token']}"}


def test_handlers_get_params_body_and_caller(client: FlaskClient, headers: dict[str, str]) -> None:
    created = client.post(
        "/calendar/v3/calendars/primary/events", json={"summary": "Lunch"}, headers=headers
    )
    assert created.status_code == 200
    assert body(created) == {"summary": "Lunch", "id": "e1", "creator": "a@example.com"}
    created.close()
    fetched = client.get("/calendar/v3/calendars/primary/events/e1?maxAttendees=3", headers=headers)
    assert body(fetched)["maxAttendees"] == 3
    assert body(client.get("/_control/calendar/events/count")) == {"count": 1, "notified": ["e1"]}


def test_errors_and_empty_answers(client: FlaskClient, headers: dict[str, str]) -> None:
    missing = client.get("/calendar/v3/calendars/primary/events/nope", headers=headers)
    assert missing.status_code == 404
    assert body(missing)["error"]["errors"][0]["reason"] == "notFound"
    deleted = client.delete("/calendar/v3/calendars/primary/events/nope", headers=headers)
    assert deleted.status_code == 204
    failed = client.get("/calendar/v3/calendars/primary/events", headers=headers)
    assert failed.status_code == 500
    assert "bug in the fake" in body(failed)["error"]["message"]
    bad_json = client.post(
        "/calendar/v3/calendars/primary/events",
        data="{",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert bad_json.status_code == 400
    assert body(bad_json)["error"]["errors"][0]["reason"] == "parseError"


def test_reset_recreates_module_data(client: FlaskClient, headers: dict[str, str]) -> None:
    client.post("/calendar/v3/calendars/primary/events", json={}, headers=headers)
    client.post("/_control/reset")
    assert body(client.get("/_control/calendar/events/count"))["count"] == 0


def test_unknown_method_ids_are_rejected_at_startup() -> None:
    typo: ApiModule[None] = ApiModule("typo", lambda: None)
    typo.handler("calendar.events.lst")(lambda request, data: None)
    with pytest.raises(ValueError, match=r"calendar\.events\.lst"):
        create_app(FakeGoogleConfig(), modules=[typo])
