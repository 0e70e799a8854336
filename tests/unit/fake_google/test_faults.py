"""Fault injection on API methods and on the token endpoint."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import Resource, build
from googleapiclient.errors import HttpError

from tests.unit.fake_google.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    EMAIL,
    calls,
    exchange_server_auth_code,
)

pytestmark = pytest.mark.unit


@pytest.fixture
def credentials(base_url: str, alice: dict[str, Any]) -> Credentials:
    """Refreshable credentials of alice."""
    tokens = exchange_server_auth_code(base_url, alice["sub"], ["openid", EMAIL])
    return Credentials(
        token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        token_uri=f"{base_url}/token",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )


def oauth2_service(base_url: str, credentials: Credentials) -> Resource:
    return build(
        "oauth2",
        "v2",
        credentials=credentials,
        static_discovery=True,
        client_options={"api_endpoint": f"{base_url}/"},
    )


def add_fault(base_url: str, **fault: Any) -> dict[str, Any]:
    response = requests.post(f"{base_url}/_control/faults", json=fault, timeout=5)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_rate_limit_with_retry_after_then_success(base_url: str, credentials: Credentials) -> None:
    add_fault(base_url, target="oauth2.userinfo.get", status=429, retry_after=5)
    service = oauth2_service(base_url, credentials)
    with pytest.raises(HttpError) as limited:
        service.userinfo().get().execute()
    assert limited.value.status_code == 429
    assert limited.value.resp["retry-after"] == "5"
    error = json.loads(limited.value.content)["error"]
    assert error["errors"][0]["reason"] == "rateLimitExceeded"
    assert error["status"] == "RESOURCE_EXHAUSTED"

    assert service.userinfo().get().execute()["email"] == "alice@example.com"
    records = calls(base_url, method="oauth2.userinfo.get")
    assert [(r["status"], r["faulted"]) for r in records] == [(429, True), (200, False)]


def test_googleapiclient_retries_through_a_fault(base_url: str, credentials: Credentials) -> None:
    add_fault(base_url, target="oauth2.userinfo.get", status=503, times=2)
    request = oauth2_service(base_url, credentials).userinfo().get()
    sleeps: list[float] = []
    request._sleep = sleeps.append  # skip the client's real backoff
    assert request.execute(num_retries=2)["id"]
    assert len(sleeps) == 2
    assert requests.get(f"{base_url}/_control/faults", timeout=5).json() == {"faults": []}


def test_invalid_grant_fault_on_token(base_url: str, credentials: Credentials) -> None:
    add_fault(base_url, target="oauth.token", status=400, oauth_error="invalid_grant")
    with pytest.raises(RefreshError, match="invalid_grant"):
        credentials.refresh(Request())
    credentials.refresh(Request())
    assert credentials.token
    statuses = [c["status"] for c in calls(base_url, method="oauth.token")]
    assert statuses[-2:] == [400, 200]


def test_dropped_connection(base_url: str, credentials: Credentials) -> None:
    add_fault(base_url, target="oauth2.userinfo.get", status=0, delay_seconds=0.05)
    with pytest.raises(requests.ConnectionError):
        requests.get(
            f"{base_url}/oauth2/v2/userinfo",
            headers={"Authorization": f"Bearer {credentials.token}"},
            timeout=5,
        )
    (record,) = calls(base_url, method="oauth2.userinfo.get")
    assert record["status"] == 0
    assert record["faulted"] is True


def test_slow_answer_times_out_the_client(base_url: str, credentials: Credentials) -> None:
    add_fault(base_url, target="oauth.token", status=200, delay_seconds=0.5)
    with pytest.raises(requests.ReadTimeout):
        requests.post(
            f"{base_url}/token",
            data={"grant_type": "refresh_token", "refresh_token": credentials.refresh_token},
            auth=(CLIENT_ID, CLIENT_SECRET),
            timeout=0.1,
        )


def test_unknown_fault_target_is_rejected(base_url: str) -> None:
    response = requests.post(
        f"{base_url}/_control/faults",
        json={"target": "calendar.events.lst", "status": 500},
        timeout=5,
    )
    assert response.status_code == 400


def test_clear_faults(base_url: str, credentials: Credentials) -> None:
    add_fault(base_url, target="oauth2.userinfo.get", status=500, times=3)
    requests.delete(f"{base_url}/_control/faults", timeout=5)
    assert oauth2_service(base_url, credentials).userinfo().get().execute()["id"]
