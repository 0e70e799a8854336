"""Linking Google accounts end to end: account API, fake consent, OAuth callback, vault."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from devstack.drivers.clients import AuthUser
from devstack.drivers.linking import Consent, all_documents, api, approve, follow, start_link
from devstack.drivers.push import device_body, new_token, put_device
from shared.scopes import ALL_SCOPES, FEATURE_SCOPES, Feature
from tests.e2e.conftest import RunningStack

SEALED = re.compile(r"^v1\.local-1\.[A-Za-z0-9_-]{20,}$")
RAW_TOKEN = re.compile(r"ya29\.|1//")


def _result(response: requests.Response) -> str:
    found = re.search(r'data-result="([a-z_]+)"', response.text)
    assert found, response.text
    return found.group(1)


@pytest.fixture
def account(stack: RunningStack) -> str:
    return stack.function_url("account_api")


@pytest.fixture
def google_user(stack: RunningStack) -> dict[str, Any]:
    stack.seen.add("kim.minji@gmail.example")
    return stack.google.create_user("kim.minji@gmail.example", "Kim Minji")


def _link(
    stack: RunningStack,
    user: AuthUser,
    google_user: dict[str, Any],
    scopes: list[str] | None = None,
) -> requests.Response:
    consent = start_link(stack.function_url("account_api"), user)
    return follow(approve(stack.urls.fake_google, consent, google_user["sub"], scopes))


def _status(account: str, user: AuthUser) -> dict[str, Any]:
    response = api(account, "GET", "/v1/google", user)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _token_calls(stack: RunningStack) -> list[dict[str, Any]]:
    return [call for call in stack.google.calls() if call["method"] == "oauth.token"]


def test_consent_url_has_pkce_offline_and_narrow_scopes(stack: RunningStack, account: str) -> None:
    user = stack.auth.create_user()
    consent = start_link(account, user)
    params = consent.params
    assert consent.url.startswith(f"{stack.urls.fake_google}/o/oauth2/v2/auth?")
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert params["access_type"] == "offline"
    assert params["include_granted_scopes"] == "true"
    assert params["prompt"] == "consent"  # nothing stored yet: make Google issue a refresh token
    assert params["redirect_uri"] == stack.urls.oauth_redirect_uri
    assert set(params["scope"].split()) == set(ALL_SCOPES)
    assert len(consent.state) >= 43
    # Only a hash of the state is stored, with an expiry for the TTL policy.
    states = list(stack.db.collection("oauth_states").stream())
    assert len(states) == 1 and consent.state not in states[0].id
    stored = states[0].to_dict() or {}
    assert stored["uid"] == user.uid and SEALED.match(stored["sealed_verifier"])
    assert stored["expires_at"] - datetime.now(UTC) <= timedelta(minutes=10)


def test_full_link_stores_only_ciphertext(
    stack: RunningStack, account: str, google_user: dict[str, Any]
) -> None:
    user = stack.auth.create_user()
    page = _link(stack, user, google_user, None)
    assert page.status_code == 200 and _result(page) == "linked"
    assert page.headers["Content-Type"].startswith("text/html")
    assert f'href="{stack.urls.app_deep_link}?result=linked"' in page.text
    status = _status(account, user)
    assert status["status"] == "linked"
    assert set(status["features"]) == {"calendar", "gmail", "drive"}
    assert "https://www.googleapis.com/auth/gmail.metadata" in status["scopes"]
    secret = stack.db.document(f"users/{user.uid}/secrets/google").get().to_dict() or {}
    assert SEALED.match(secret["refresh_token"]) and SEALED.match(secret["access_token"])
    for path, data in all_documents(stack.db):
        assert not RAW_TOKEN.search(repr(data)), path
    me = api(account, "GET", "/v1/me", user).json()
    assert me["google"]["status"] == "linked"


def test_partial_consent_is_recorded_and_gates_features(
    stack: RunningStack, account: str, google_user: dict[str, Any]
) -> None:
    user = stack.auth.create_user()
    page = _link(stack, user, google_user, list(FEATURE_SCOPES[Feature.CALENDAR]))
    assert _result(page) == "linked"
    status = _status(account, user)
    assert status["features"] == ["calendar"]
    assert "https://www.googleapis.com/auth/gmail.metadata" not in status["scopes"]


def test_access_denied_changes_nothing(
    stack: RunningStack, account: str, google_user: dict[str, Any]
) -> None:
    user = stack.auth.create_user()
    consent = start_link(account, user)
    page = follow(approve(stack.urls.fake_google, consent, google_user["sub"], action="cancel"))
    assert page.status_code == 400 and _result(page) == "access_denied"
    assert f"{stack.urls.app_deep_link}?result=access_denied" in page.text
    assert _token_calls(stack) == []
    assert _status(account, user)["status"] == "not_linked"


def _expire(stack: RunningStack, consent: Consent) -> None:
    for snapshot in stack.db.collection("oauth_states").stream():
        snapshot.reference.update({"expires_at": datetime.now(UTC) - timedelta(seconds=1)})


@pytest.mark.parametrize("case", ["missing", "unknown", "tampered", "reused", "expired"])
def test_bad_state_is_rejected_without_exchange(
    stack: RunningStack, account: str, google_user: dict[str, Any], case: str
) -> None:
    user = stack.auth.create_user()
    consent = start_link(account, user)
    location = approve(stack.urls.fake_google, consent, google_user["sub"])
    callback = stack.urls.oauth_redirect_uri
    code = Consent(location).params["code"]
    if case == "reused":
        assert _result(follow(location)) == "linked"
        stack.google.reset_calls()
        url = location
    elif case == "expired":
        _expire(stack, consent)
        url = location
    elif case == "missing":
        url = f"{callback}?code={code}"
    elif case == "unknown":
        url = f"{callback}?code={code}&state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    else:
        url = location.replace(
            consent.state, consent.state[:-1] + ("A" if consent.state[-1] != "A" else "B")
        )
    page = follow(url)
    assert page.status_code == 400
    assert _result(page) == ("expired_state" if case == "expired" else "invalid_state")
    assert _token_calls(stack) == []
    if case != "reused":
        assert _status(account, user)["status"] == "not_linked"


def test_state_is_bound_to_the_user_who_started(
    stack: RunningStack, account: str, google_user: dict[str, Any]
) -> None:
    alice, bob = stack.auth.create_user(), stack.auth.create_user()
    consent = start_link(account, alice)
    # Bob's browser completing Alice's attempt links Alice's account, never Bob's.
    assert _result(follow(approve(stack.urls.fake_google, consent, google_user["sub"]))) == "linked"
    assert _status(account, alice)["status"] == "linked"
    assert _status(account, bob)["status"] == "not_linked"
    # And one Google account can back only one app user.
    page = _link(stack, bob, google_user)
    assert _result(page) == "account_in_use"
    assert _status(account, bob)["status"] == "not_linked"


def test_code_replay_and_wrong_verifier_fail(
    stack: RunningStack, account: str, google_user: dict[str, Any]
) -> None:
    user = stack.auth.create_user()
    first = start_link(account, user)
    second = start_link(account, user)
    code = Consent(approve(stack.urls.fake_google, first, google_user["sub"])).params["code"]
    # The code was issued for the first attempt's PKCE challenge: the second's verifier fails.
    page = follow(f"{stack.urls.oauth_redirect_uri}?state={second.state}&code={code}")
    assert _result(page) == "exchange_failed"
    assert [call["status"] for call in _token_calls(stack)] == [400]
    assert _status(account, user)["status"] == "not_linked"


def test_reconsent_without_refresh_token_keeps_the_stored_one(
    stack: RunningStack, account: str, google_user: dict[str, Any]
) -> None:
    user = stack.auth.create_user()
    assert (
        _result(_link(stack, user, google_user, list(FEATURE_SCOPES[Feature.CALENDAR]))) == "linked"
    )
    before = stack.db.document(f"users/{user.uid}/secrets/google").get().to_dict() or {}
    consent = start_link(account, user)
    assert "prompt" not in consent.params  # a refresh token is stored: no forced consent
    page = follow(
        approve(
            stack.urls.fake_google, consent, google_user["sub"], list(FEATURE_SCOPES[Feature.GMAIL])
        )
    )
    assert _result(page) == "linked"
    after = stack.db.document(f"users/{user.uid}/secrets/google").get().to_dict() or {}
    assert after["refresh_token"] == before["refresh_token"]
    # include_granted_scopes: the new grant covers both features, and the old token still works.
    assert _status(account, user)["features"] == ["calendar", "gmail"]
    verified = api(account, "POST", "/v1/google/verify", user)
    assert verified.status_code == 200, verified.text


def test_invalid_grant_marks_relink_required(
    stack: RunningStack, account: str, google_user: dict[str, Any]
) -> None:
    user = stack.auth.create_user()
    _link(stack, user, google_user)
    assert api(account, "POST", "/v1/google/verify", user).status_code == 200
    requests.post(
        f"{stack.urls.fake_google}/_control/revoke_user",
        json={"sub": google_user["sub"]},
        timeout=5,
    ).raise_for_status()
    response = api(account, "POST", "/v1/google/verify", user)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "google_relink_required"
    assert _status(account, user)["status"] == "relink_required"
    assert not stack.db.document(f"users/{user.uid}/secrets/google").get().exists
    # Re-linking forces consent again and heals the account.
    assert start_link(account, user).params["prompt"] == "consent"
    assert _result(_link(stack, user, google_user)) == "linked"


def test_native_server_auth_code(
    stack: RunningStack, account: str, google_user: dict[str, Any]
) -> None:
    user = stack.auth.create_user()
    minted = requests.post(
        f"{stack.urls.fake_google}/_control/server_auth_code",
        json={"sub": google_user["sub"], "scopes": list(ALL_SCOPES)},
        timeout=5,
    ).json()
    stack.seen.add(minted["code"])
    response = api(
        account, "POST", "/v1/google/native", user, json={"server_auth_code": minted["code"]}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "linked"
    replay = api(
        account, "POST", "/v1/google/native", user, json={"server_auth_code": minted["code"]}
    )
    assert replay.status_code == 400 and replay.json()["error"]["field"] == "code"
    for bad in ({}, {"server_auth_code": "short"}, {"server_auth_code": "x" * 20, "extra": 1}):
        response = api(account, "POST", "/v1/google/native", user, json=bad)
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_request"


def _owned_paths(stack: RunningStack, user: AuthUser, sub: str) -> list[str]:
    return [
        path
        for path, data in all_documents(stack.db)
        if user.uid in path or sub in path or data.get("uid") == user.uid
    ]


def test_unlink_revokes_and_deletes_google_data(
    stack: RunningStack, account: str, google_user: dict[str, Any]
) -> None:
    user = stack.auth.create_user()
    _link(stack, user, google_user)
    assert api(account, "DELETE", "/v1/google", user).status_code == 204
    assert any(
        call["method"] == "oauth.revoke" and call["status"] == 200 for call in stack.google.calls()
    )
    grants = requests.get(
        f"{stack.urls.fake_google}/_control/grants", params={"sub": google_user["sub"]}, timeout=5
    ).json()["grants"]
    assert not any(grant["refresh_token_live"] for grant in grants)
    assert _owned_paths(stack, user, google_user["sub"]) == [f"users/{user.uid}"]
    assert _status(account, user)["status"] == "not_linked"
    export = api(account, "GET", "/v1/me/export", user).json()
    assert export["collections"] == {}


def test_export_has_no_tokens_and_erase_leaves_nothing(
    stack: RunningStack, account: str, google_user: dict[str, Any]
) -> None:
    user = stack.auth.create_user()
    _link(stack, user, google_user)
    token = new_token(stack.seen)
    assert put_device(account, user, "install-0001", device_body(token)).status_code in (200, 201)
    export = api(account, "GET", "/v1/me/export", user)
    assert export.status_code == 200
    assert token not in export.text and token[-20:] not in export.text
    assert [device["id"] for device in export.json()["collections"]["devices"]] == ["install-0001"]
    assert export.json()["profile"]["google"]["status"] == "linked"
    assert not RAW_TOKEN.search(export.text) and "v1.local-1." not in export.text
    assert api(account, "DELETE", "/v1/me", user).status_code == 204
    assert _owned_paths(stack, user, google_user["sub"]) == []


def test_ciphertext_swapped_between_users_fails_closed(
    stack: RunningStack, account: str, google_user: dict[str, Any]
) -> None:
    alice, bob = stack.auth.create_user(), stack.auth.create_user()
    _link(stack, alice, google_user)
    other = stack.google.create_user("lee.jun@gmail.example")
    stack.seen.add("lee.jun@gmail.example")
    _link(stack, bob, other)
    alice_secret = stack.db.document(f"users/{alice.uid}/secrets/google")
    bob_secret = stack.db.document(f"users/{bob.uid}/secrets/google")
    # Bob's sealed tokens copied onto Alice: the uid is the associated data, so they fail.
    alice_secret.set(bob_secret.get().to_dict() or {})
    response = api(account, "POST", "/v1/google/verify", alice)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "google_relink_required"
    assert api(account, "POST", "/v1/google/verify", bob).status_code == 200
