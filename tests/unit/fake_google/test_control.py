"""The control API: users, clients, reset, grants, revoke_user."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request
from google.oauth2.credentials import Credentials

from tests.unit.fake_google.conftest import (
    CALENDAR,
    CLIENT_ID,
    CLIENT_SECRET,
    add_user,
    calls,
    exchange_server_auth_code,
)

pytestmark = pytest.mark.unit


def test_health(base_url: str) -> None:
    assert requests.get(f"{base_url}/_control/health", timeout=5).json() == {"ok": True}


def test_users(base_url: str) -> None:
    user = add_user(base_url, "carol@example.com", "Carol Park")
    assert len(user["sub"]) == 21 and user["sub"].isdigit()
    chosen = requests.post(
        f"{base_url}/_control/users", json={"email": "dan@example.com", "sub": "42"}, timeout=5
    ).json()
    assert chosen["sub"] == "42"
    assert chosen["name"] == "dan"
    duplicate = requests.post(
        f"{base_url}/_control/users", json={"email": "CAROL@example.com"}, timeout=5
    )
    assert duplicate.status_code == 409
    listed = requests.get(f"{base_url}/_control/users", timeout=5).json()["users"]
    assert [u["email"] for u in listed] == ["carol@example.com", "dan@example.com"]


def test_reset_clears_state_but_keeps_clients(base_url: str, alice: dict[str, Any]) -> None:
    requests.post(
        f"{base_url}/_control/clients",
        json={"client_id": "extra", "client_secret": "s", "redirect_uris": []},
        timeout=5,
    ).raise_for_status()
    exchange_server_auth_code(base_url, alice["sub"], ["openid"])
    requests.post(
        f"{base_url}/_control/faults", json={"target": "oauth.token", "status": 500}, timeout=5
    )

    requests.post(f"{base_url}/_control/reset", timeout=5).raise_for_status()

    assert requests.get(f"{base_url}/_control/users", timeout=5).json() == {"users": []}
    assert requests.get(f"{base_url}/_control/grants", timeout=5).json() == {"grants": []}
    assert requests.get(f"{base_url}/_control/faults", timeout=5).json() == {"faults": []}
    assert calls(base_url) == []
    clients = requests.get(f"{base_url}/_control/clients", timeout=5).json()["clients"]
    assert {c["client_id"] for c in clients} == {CLIENT_ID, "extra"}
    bob = add_user(base_url, "bob@example.com", "Bob Lee")
    minted = requests.post(
        f"{base_url}/_control/server_auth_code",
        json={"sub": bob["sub"], "scopes": ["openid"], "client_id": "extra"},
        timeout=5,
    )
    assert minted.status_code == 200


def test_grants_and_revoke_user(base_url: str, alice: dict[str, Any]) -> None:
    tokens = exchange_server_auth_code(base_url, alice["sub"], ["openid", CALENDAR])
    grants = requests.get(
        f"{base_url}/_control/grants", params={"sub": alice["sub"]}, timeout=5
    ).json()["grants"]
    assert grants == [
        {
            "sub": alice["sub"],
            "client_id": CLIENT_ID,
            "scopes": [CALENDAR, "openid"],
            "refresh_token_live": True,
            "live_access_tokens": 1,
        }
    ]
    assert tokens["refresh_token"] not in str(grants)

    revoked = requests.post(
        f"{base_url}/_control/revoke_user", json={"sub": alice["sub"]}, timeout=5
    ).json()
    assert revoked == {"revoked_clients": [CLIENT_ID]}
    assert requests.get(f"{base_url}/_control/grants", timeout=5).json() == {"grants": []}
    credentials = Credentials(
        token=None,
        refresh_token=tokens["refresh_token"],
        token_uri=f"{base_url}/token",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    with pytest.raises(RefreshError, match="invalid_grant"):
        credentials.refresh(Request())


def test_expire_access_tokens(base_url: str, alice: dict[str, Any]) -> None:
    tokens = exchange_server_auth_code(base_url, alice["sub"], ["openid"])
    expired = requests.post(
        f"{base_url}/_control/expire_access_tokens", json={"sub": alice["sub"]}, timeout=5
    ).json()
    assert expired == {"expired": 1}
    response = requests.get(
        f"{base_url}/oauth2/v2/userinfo",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=5,
    )
    assert response.status_code == 401


def test_calls_filter(base_url: str, alice: dict[str, Any]) -> None:
    exchange_server_auth_code(base_url, alice["sub"], ["openid"])
    requests.get(f"{base_url}/oauth2/v2/userinfo", timeout=5)
    assert [c["method"] for c in calls(base_url)] == ["oauth.token", "oauth2.userinfo.get"]
    assert [c["seq"] for c in calls(base_url, api="oauth2")] == [2]
    requests.delete(f"{base_url}/_control/calls", timeout=5)
    assert calls(base_url) == []
