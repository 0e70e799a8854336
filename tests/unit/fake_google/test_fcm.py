"""The fake FCM v1 and the JWT-bearer grant, driven by the real google-auth and firebase-admin
through our FCM adapter (its base URL pointed at the fake)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import firebase_admin
import pytest
import requests
from firebase_admin import credentials, exceptions, messaging
from google.auth import crypt, jwt
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from devstack.fake_google.server import BackgroundServer
from devstack.service_account import register_with_fake, write_key_file
from shared.adapters.fcm import FcmSender, _route_to
from shared.services.push import PushMessage, SendStatus

PROJECT = "demo-fcm"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GOOD = "good-token:APA91b" + "g" * 60
OTHER = "other-token:APA91b" + "o" * 60


@pytest.fixture(scope="module")
def key(server: BackgroundServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A service-account key file registered with the fake."""
    path = tmp_path_factory.mktemp("sa") / "key.json"
    register_with_fake(write_key_file(path, PROJECT, server.base_url), server.base_url)
    yield path


@pytest.fixture(scope="module")
def app(key: Path, server: BackgroundServer) -> Iterator[firebase_admin.App]:
    """A firebase-admin app with the key file, its FCM requests routed to the fake."""
    firebase = firebase_admin.initialize_app(
        credentials.Certificate(str(key)), {"projectId": PROJECT}, name="fcm-unit"
    )
    _route_to(firebase, server.base_url)
    yield firebase
    firebase_admin.delete_app(firebase)


@pytest.fixture(autouse=True)
def _no_leftover_sender_app() -> Iterator[None]:
    """Each FcmSender initialises the named app "uplus-fcm": delete it after each test."""
    yield
    if "uplus-fcm" in firebase_admin._apps:
        firebase_admin.delete_app(firebase_admin.get_app("uplus-fcm"))


def _fcm(base_url: str, route: str, **body: object) -> None:
    requests.post(f"{base_url}/_control/fcm/{route}", json=body, timeout=5).raise_for_status()


def _message(token: str) -> messaging.Message:
    return messaging.Message(token=token, data={"item_id": "i1"})


def test_service_account_assertions_are_verified(base_url: str, key: Path) -> None:
    creds = service_account.Credentials.from_service_account_file(str(key), scopes=[FCM_SCOPE])
    creds.refresh(Request())
    assert creds.token and creds.token.startswith("ya29.")

    info = json.loads(key.read_text())
    other_key = write_key_file(key.parent / "unregistered.json", PROJECT, base_url)
    forged = {**other_key, "client_email": info["client_email"]}
    impostor = service_account.Credentials.from_service_account_info(forged, scopes=[FCM_SCOPE])
    with pytest.raises(RefreshError, match="invalid_grant"):
        impostor.refresh(Request())

    signer = crypt.RSASigner.from_service_account_info(info)
    now = int(time.time())
    claims = {"iss": info["client_email"], "scope": FCM_SCOPE, "iat": now, "exp": now + 600}
    for bad, error in (
        ({**claims, "aud": "https://example.com/token"}, "invalid_grant"),
        ({**claims, "aud": f"{base_url}/token", "exp": now + 7200}, "invalid_grant"),
        (
            {**claims, "aud": f"{base_url}/token", "iat": now - 7200, "exp": now - 3600},
            "invalid_grant",
        ),
        ({**claims, "aud": f"{base_url}/token", "scope": ""}, "invalid_scope"),
    ):
        assertion = jwt.encode(signer, bad).decode()
        response = requests.post(
            f"{base_url}/token",
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": assertion,
            },
            timeout=5,
        )
        assert response.status_code == 400 and response.json()["error"] == error, bad


def test_sends_are_recorded_and_errors_are_firebase_admins_typed_exceptions(
    base_url: str, app: firebase_admin.App
) -> None:
    assert messaging.send(_message(GOOD), app=app).startswith(f"projects/{PROJECT}/messages/")
    recorded = requests.get(f"{base_url}/_control/fcm/messages", timeout=5).json()["messages"]
    assert [m["token"] for m in recorded] == [GOOD]
    assert recorded[0]["message"]["data"] == {"item_id": "i1"}

    _fcm(base_url, "unregister", token=OTHER)
    with pytest.raises(messaging.UnregisteredError):
        messaging.send(_message(OTHER), app=app)
    cases = [
        ("QUOTA_EXCEEDED", messaging.QuotaExceededError),
        ("SENDER_ID_MISMATCH", messaging.SenderIdMismatchError),
        ("THIRD_PARTY_AUTH_ERROR", messaging.ThirdPartyAuthError),
        ("INVALID_ARGUMENT", exceptions.InvalidArgumentError),
    ]
    for code, error_type in cases:
        _fcm(base_url, "fail", token=GOOD, error_code=code, times=0)
        with pytest.raises(error_type):
            messaging.send(_message(GOOD), app=app)
        requests.post(f"{base_url}/_control/reset", timeout=5).raise_for_status()
    with pytest.raises(exceptions.InvalidArgumentError):
        messaging.send(_message("bad token with spaces"), app=app)


def test_the_adapter_classifies_each_token(
    base_url: str, key: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    sender = FcmSender(PROJECT, base_url)
    tokens = [f"token-{i}:APA91b" + "t" * 60 for i in range(4)]
    _fcm(base_url, "unregister", token=tokens[1])
    _fcm(base_url, "fail", token=tokens[2], error_code="QUOTA_EXCEEDED")
    _fcm(base_url, "fail", token=tokens[3], error_code="UNAVAILABLE", times=1)
    message = PushMessage(
        data={"item_id": "i1", "category": "mail"},
        title="t",
        body="b",
        collapse_key="mail-0123456789abcdef",
        ttl=timedelta(hours=1),
        urgent=True,
    )
    results = sender.send(message, tokens)
    # UNAVAILABLE is not resent by the transport: the dispatch retries it by redelivery.
    assert [r.status for r in results] == [
        SendStatus.SENT,
        SendStatus.TOKEN_DEAD,
        SendStatus.RETRY,
        SendStatus.RETRY,
    ]
    recorded = requests.get(f"{base_url}/_control/fcm/messages", timeout=5).json()["messages"]
    assert [m["token"] for m in recorded].count(tokens[3]) == 0
    assert results[1].error == "UNREGISTERED" and results[2].error == "QUOTA_EXCEEDED"
    calls = requests.get(f"{base_url}/_control/calls", params={"api": "oauth"}, timeout=5).json()
    assert any(c.get("grant_type", "").endswith("jwt-bearer") for c in calls["calls"])


def _message_for(category: str = "mail") -> PushMessage:
    return PushMessage(
        data={"item_id": "i1", "category": category},
        title="t",
        body="b",
        collapse_key="mail-0123456789abcdef",
        ttl=timedelta(hours=1),
        urgent=True,
    )


def test_an_accepted_send_answered_after_the_timeout_is_unknown_and_sent_once(
    base_url: str, key: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    token = "slow-token:APA91b" + "s" * 60
    _fcm(base_url, "slow", token=token, delay_seconds=2.5)
    sender = FcmSender(PROJECT, base_url, timeout_seconds=1)
    results = sender.send(_message_for(), [token])
    assert [r.status for r in results] == [SendStatus.UNKNOWN]
    time.sleep(2)  # a transport resend would have reached the fake by now
    recorded = requests.get(
        f"{base_url}/_control/fcm/messages", params={"token": token}, timeout=5
    ).json()["messages"]
    assert len(recorded) == 1


def test_a_send_that_cannot_connect_is_retried(key: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    # Credentials come from the fake (the key's token_uri); FCM itself is unreachable.
    sender = FcmSender(PROJECT, "http://127.0.0.1:9", timeout_seconds=2)
    results = sender.send(_message_for(), [GOOD])
    assert [r.status for r in results] == [SendStatus.RETRY]
