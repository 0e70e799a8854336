"""The discovery-driven gateway: authentication, scope gating, routing and query validation."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.unit.fake_google.conftest import CALENDAR, EMAIL, calls, exchange_server_auth_code

pytestmark = pytest.mark.unit


@pytest.fixture
def token(base_url: str, alice: dict[str, Any]) -> str:
    """An access token of alice holding the calendar scope."""
    tokens = exchange_server_auth_code(base_url, alice["sub"], ["openid", EMAIL, CALENDAR])
    access_token: str = tokens["access_token"]
    return access_token


def call(
    base_url: str, method: str, path: str, token: str | None, **params: Any
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, f"{base_url}{path}", params=params, headers=headers, timeout=5)


def reason(response: requests.Response) -> str:
    error = response.json()["error"]
    assert error["code"] == response.status_code
    found: str = error["errors"][0]["reason"]
    return found


def test_missing_or_unknown_token_is_401(base_url: str, token: str) -> None:
    for bearer in (None, "ya29.not-a-token"):
        response = call(base_url, "GET", "/oauth2/v2/userinfo", bearer)
        assert response.status_code == 401
        assert reason(response) == "authError"
        assert response.json()["error"]["status"] == "UNAUTHENTICATED"


def test_userinfo_fields_follow_scopes(base_url: str, alice: dict[str, Any]) -> None:
    only_openid = exchange_server_auth_code(base_url, alice["sub"], ["openid"])["access_token"]
    assert call(base_url, "GET", "/oauth2/v2/userinfo", only_openid).json() == {"id": alice["sub"]}


def test_unknown_path_is_404(base_url: str, token: str) -> None:
    response = call(base_url, "GET", "/calendar/v3/nothing/here", token)
    assert response.status_code == 404
    assert reason(response) == "notFound"
    assert calls(base_url, api="unknown")[0]["status"] == 404


def test_unimplemented_method_is_501(base_url: str, token: str) -> None:
    response = call(base_url, "GET", "/calendar/v3/calendars/primary/acl", token)
    assert response.status_code == 501
    assert reason(response) == "notImplemented"
    (record,) = calls(base_url, method="calendar.acl.list")
    assert record["api"] == "calendar"
    assert record["status"] == 501


def test_scope_check_applies_to_every_registered_api(base_url: str, token: str) -> None:
    response = call(base_url, "GET", "/gmail/v1/users/me/profile", token)
    assert response.status_code == 403
    assert reason(response) == "insufficientPermissions"


def test_missing_required_parameter(base_url: str, token: str) -> None:
    path = "/calendar/v3/calendars/primary/events/quickAdd"
    response = call(base_url, "POST", path, token)
    assert response.status_code == 400
    assert reason(response) == "required"
    assert call(base_url, "POST", path, token, text="Lunch").status_code == 501


@pytest.mark.parametrize(
    "params",
    [
        {"orderBy": "random"},
        {"maxResults": "ten"},
        {"singleEvents": "yes"},
        {"timeMin": "2026-01-01T00:00:00"},
        {"noSuchParameter": "1"},
    ],
)
def test_invalid_query_parameters(base_url: str, token: str, params: dict[str, str]) -> None:
    response = call(base_url, "GET", "/calendar/v3/calendars/primary/events", token, **params)
    assert response.status_code == 400
    assert reason(response) == "invalidParameter"


def test_valid_and_standard_parameters_pass(base_url: str, token: str) -> None:
    response = call(
        base_url,
        "GET",
        "/calendar/v3/calendars/primary/events",
        token,
        orderBy="startTime",
        singleEvents="true",
        maxResults="10",
        timeMin="2026-01-01T00:00:00+09:00",
        alt="json",
        prettyPrint="false",
    )
    assert response.status_code == 200


def test_repeated_parameters(base_url: str, alice: dict[str, Any]) -> None:
    gmail = "https://www.googleapis.com/auth/gmail.readonly"
    token = exchange_server_auth_code(base_url, alice["sub"], [gmail])["access_token"]
    path = "/gmail/v1/users/me/threads"  # threads.list: validated, then not implemented
    assert call(base_url, "GET", path, token, labelIds=["INBOX", "UNREAD"]).status_code == 501
    twice = call(base_url, "GET", path, token, q=["a", "b"])
    assert twice.status_code == 400
    assert reason(twice) == "invalidParameter"


def test_call_log_never_holds_token_values(base_url: str, token: str) -> None:
    call(base_url, "GET", "/oauth2/v2/userinfo", token, access_token=token)
    log = requests.get(f"{base_url}/_control/calls", timeout=5).text
    assert token not in log
    assert "<redacted>" in log
