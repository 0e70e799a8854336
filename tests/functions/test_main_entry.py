"""The deployment entry ``main.py`` serves every function under its name, over the
installed container (each function module is imported lazily, on first access)."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.functions.conftest import ROOT, SIGNATURES, World, load, publish


def call(name: str, world: World) -> Callable[[FlaskClient], TestResponse]:
    """One request each function answers in a known way."""
    if name == "account_api":
        headers = world.user("alice")
        return lambda client: client.get("/v1/me", headers=headers)
    if name == "calendar_api":
        headers = world.linked_user("alice")
        return lambda client: client.get("/v1/calendars", headers=headers)
    if name == "oauth_callback":
        return lambda client: client.get("/?state=unknown&code=x")
    if SIGNATURES[name] == "http":
        return lambda client: client.post("/")
    return lambda client: publish(client, {})


EXPECTED = {
    "account_api": 200,
    "calendar_api": 200,
    "oauth_callback": 400,
    "calendar_webhook": 401,
    "drive_webhook": 401,
    "gmail_receiver": 200,
    "watch_maintenance": 200,
    "maintenance_worker": 200,
    "push_dispatch": 200,
}


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_main_exposes_the_function(world: World, name: str) -> None:
    # A module imported by an earlier test holds that test's container: import it afresh.
    module = f"functions.{name}"
    sys.modules.pop(module, None)
    try:
        client = load(name, ROOT / "main.py")
        response = call(name, world)(client)
    finally:
        sys.modules.pop(module, None)
    assert response.status_code == EXPECTED[name]
    assert set(EXPECTED) == set(SIGNATURES)
