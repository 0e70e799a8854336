"""Revoked sessions are refused: deleted, disabled and revoked Firebase users get 401 on
every route, and an erased account's old token cannot re-create anything."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import requests

from devstack.drivers.clients import AuthUser
from devstack.drivers.linking import all_documents, api
from devstack.drivers.push import device_body, new_token
from tests.e2e.conftest import RunningStack

# One route of each kind: read, write, Google-linking, calendar.
ROUTES = [
    ("account_api", "GET", "/v1/me", None),
    ("account_api", "PUT", "/v1/devices/install-0001", "device"),
    ("account_api", "POST", "/v1/google/link", None),
    ("account_api", "GET", "/v1/activity", None),
    ("account_api", "PUT", "/v1/preferences", "preferences"),
    ("calendar_api", "GET", "/v1/calendars", None),
]
PREFERENCES = {"categories": {"mail": True, "drive": True, "calendar": True}, "preview": True}


def _call(
    stack: RunningStack, user: AuthUser, route: tuple[str, str, str, str | None]
) -> requests.Response:
    function, method, path, body = route
    payload = {"device": device_body(new_token(stack.seen)), "preferences": PREFERENCES}
    json_body = payload[body] if body else None
    return api(stack.function_url(function), method, path, user, json=json_body)


def _refused_everywhere(stack: RunningStack, user: AuthUser) -> None:
    for route in ROUTES:
        response = _call(stack, user, route)
        assert response.status_code == 401, (route, response.text)
        assert response.json()["error"]["code"] == "unauthenticated"
    assert [path for path, _ in all_documents(stack.db)] == []


def _deleted(stack: RunningStack, user: AuthUser) -> None:
    stack.auth.delete_user(user.uid)


def _disabled(stack: RunningStack, user: AuthUser) -> None:
    stack.auth.disable_user(user.uid)


def _revoked(stack: RunningStack, user: AuthUser) -> None:
    time.sleep(1.1)  # token iat and validSince are whole seconds
    stack.auth.revoke_sessions(user.uid, int(time.time()))


@pytest.mark.parametrize("change", [_deleted, _disabled, _revoked], ids=lambda f: f.__name__)
def test_refused_after_the_user_changes(
    stack: RunningStack, change: Callable[[RunningStack, AuthUser], None]
) -> None:
    user = stack.auth.create_user()
    assert _call(stack, user, ROUTES[0]).status_code == 200
    change(stack, user)
    _refused_everywhere(stack, user)


def test_erase_deletes_the_auth_user_and_the_old_token_creates_nothing(
    stack: RunningStack,
) -> None:
    user = stack.auth.create_user()
    account = stack.function_url("account_api")
    assert _call(stack, user, ROUTES[1]).status_code == 201
    assert api(account, "DELETE", "/v1/me", user).status_code == 204
    assert not stack.auth.exists(user.uid)
    _refused_everywhere(stack, user)
    again = api(account, "DELETE", "/v1/me", user)
    assert again.status_code == 401


def test_a_live_user_is_still_served(stack: RunningStack) -> None:
    user = stack.auth.create_user()
    for route in ROUTES:
        response = _call(stack, user, route)
        assert response.status_code < 400 or route[0] == "calendar_api", response.text
    # Not linked: the calendar answers 409, which is not an authentication failure.
    calendars = _call(stack, user, ROUTES[-1])
    assert calendars.status_code == 409
