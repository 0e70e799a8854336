"""Linking Google accounts end to end: account API, fake consent, OAuth callback, vault."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from devstack.drivers.clients import AuthUser
from devstack.drivers.linking import (
    Consent,
    all_documents,
    api,
    approve,
    complete,
    completion_code,
    follow,
    link_via_consent,
    mint_native_code,
    result_of,
    start_link,
)
from devstack.drivers.maintenance import tick
from devstack.drivers.pubsub import eventually
from devstack.drivers.push import device_body, new_token, put_device
from shared.scopes import ALL_SCOPES, FEATURE_SCOPES, Feature
from tests.e2e.conftest import RunningStack

SEALED = re.compile(r"^v1\.local-1\.[A-Za-z0-9_-]{20,}$")
RAW_TOKEN = re.compile(r"ya29\.|1//")


_result = result_of


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
    """Start, consent, callback and completion in the app: the completion's response."""
    account = stack.function_url("account_api")
    return link_via_consent(account, stack.urls.fake_google, user, google_user["sub"], scopes)


def _linked(response: requests.Response) -> bool:
    return response.status_code == 200 and response.json()["status"] == "linked"


def _revocations(stack: RunningStack) -> list[dict[str, Any]]:
    return [call for call in stack.google.calls() if call["method"] == "oauth.revoke"]


def _grant_live(stack: RunningStack, sub: str) -> bool:
    grants = requests.get(
        f"{stack.urls.fake_google}/_control/grants", params={"sub": sub}, timeout=5
    ).json()["grants"]
    return any(grant["refresh_token_live"] for grant in grants)


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
    # Only hashes of the state and of the native nonce are stored, with an expiry (TTL).
    states = {
        (doc.to_dict() or {})["kind"]: doc for doc in stack.db.collection("oauth_states").stream()
    }
    assert set(states) == {"web", "native"}
    assert consent.state not in states["web"].id
    stored = states["web"].to_dict() or {}
    assert stored["uid"] == user.uid and SEALED.match(stored["sealed_verifier"])
    assert stored["expires_at"] - datetime.now(UTC) <= timedelta(minutes=10)
    assert (states["native"].to_dict() or {})["uid"] == user.uid


def test_full_link_stores_only_ciphertext(
    stack: RunningStack, account: str, google_user: dict[str, Any]
) -> None:
    user = stack.auth.create_user()
    consent = start_link(account, user)
    page = follow(approve(stack.urls.fake_google, consent, google_user["sub"]))
    assert page.status_code == 200 and _result(page) == "approved"
    assert page.headers["Content-Type"].startswith("text/html")
    code = completion_code(page)
    assert f'href="{stack.urls.app_deep_link}?result=approved&amp;completion_code={code}"' in (
        page.text
    )
    # Approved at Google is not linked: only the app of the user who started completes.
    assert _status(account, user)["status"] == "not_linked"
    assert not stack.db.document(f"users/{user.uid}/secrets/google").get().exists
    done = complete(account, user, code)
    assert done.status_code == 200 and done.json()["status"] == "linked", done.text
    assert complete(account, user, code).status_code == 400  # single use
    assert list(stack.db.collection("link_completions").stream()) == []
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
    assert _linked(_link(stack, user, google_user, list(FEATURE_SCOPES[Feature.CALENDAR])))
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
        assert _result(follow(location)) == "approved"
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


def test_forwarded_link_completed_by_another_user_links_nothing(
    stack: RunningStack, account: str
) -> None:
    """Account-linking CSRF: A sends B A's consent URL; B allows as B's Google account."""
    alice, bob = stack.auth.create_user(), stack.auth.create_user()
    stack.seen.add("bob.victim@gmail.example")
    bob_google = stack.google.create_user("bob.victim@gmail.example")
    consent = start_link(account, alice)
    page = follow(approve(stack.urls.fake_google, consent, bob_google["sub"]))
    assert _result(page) == "approved"
    code = completion_code(page)
    # B's app receives the deep link and completes with B's token: refused, grant revoked.
    refused = complete(account, bob, code)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "permission_denied"
    assert [call["status"] for call in _revocations(stack)] == [200]
    assert not _grant_live(stack, bob_google["sub"])
    # The code is gone: A cannot complete it afterwards either; nobody is linked.
    assert complete(account, alice, code).status_code == 400
    assert _status(account, alice)["status"] == "not_linked"
    assert _status(account, bob)["status"] == "not_linked"
    assert not stack.db.document(f"google_accounts/{bob_google['sub']}").get().exists
    assert list(stack.db.collection("link_completions").stream()) == []


def test_one_google_account_backs_one_app_user(
    stack: RunningStack, account: str, google_user: dict[str, Any]
) -> None:
    alice, bob = stack.auth.create_user(), stack.auth.create_user()
    assert _linked(_link(stack, alice, google_user))
    stack.google.reset_calls()
    refused = _link(stack, bob, google_user)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "conflict"
    assert _status(account, bob)["status"] == "not_linked"
    # The grant backs Alice's live link: revoking it would unlink her, so it is kept.
    assert _revocations(stack) == []
    assert api(account, "POST", "/v1/google/verify", alice).status_code == 200


def test_completion_not_made_in_time_is_revoked(
    stack: RunningStack, account: str, google_user: dict[str, Any]
) -> None:
    user = stack.auth.create_user()
    consent = start_link(account, user)
    code = completion_code(follow(approve(stack.urls.fake_google, consent, google_user["sub"])))
    for snapshot in stack.db.collection("link_completions").stream():
        snapshot.reference.update({"expires_at": datetime.now(UTC) - timedelta(seconds=1)})
    # The maintenance tick (Cloud Scheduler, every 5 minutes) revokes what nobody completed.
    tick(stack.pubsub)
    eventually(lambda: list(stack.db.collection("link_completions").stream()) == [], timeout=30)
    assert [call["status"] for call in _revocations(stack)] == [200]
    assert not _grant_live(stack, google_user["sub"])
    assert complete(account, user, code).status_code == 400
    assert _status(account, user)["status"] == "not_linked"


def test_expired_completion_code_is_refused_and_revoked(
    stack: RunningStack, account: str, google_user: dict[str, Any]
) -> None:
    user = stack.auth.create_user()
    consent = start_link(account, user)
    code = completion_code(follow(approve(stack.urls.fake_google, consent, google_user["sub"])))
    for snapshot in stack.db.collection("link_completions").stream():
        snapshot.reference.update({"expires_at": datetime.now(UTC) - timedelta(seconds=1)})
    late = complete(account, user, code)
    assert late.status_code == 400 and late.json()["error"]["field"] == "completion_code"
    assert not _grant_live(stack, google_user["sub"])
    assert _status(account, user)["status"] == "not_linked"


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
    assert _linked(_link(stack, user, google_user, list(FEATURE_SCOPES[Feature.CALENDAR])))
    before = stack.db.document(f"users/{user.uid}/secrets/google").get().to_dict() or {}
    consent = start_link(account, user)
    assert "prompt" not in consent.params  # a refresh token is stored: no forced consent
    page = follow(
        approve(
            stack.urls.fake_google, consent, google_user["sub"], list(FEATURE_SCOPES[Feature.GMAIL])
        )
    )
    assert _linked(complete(account, user, completion_code(page)))
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
    assert _linked(_link(stack, user, google_user))


def test_native_server_auth_code(
    stack: RunningStack, account: str, google_user: dict[str, Any]
) -> None:
    user = stack.auth.create_user()
    nonce = api(account, "POST", "/v1/google/link", user).json()["nonce"]
    code = mint_native_code(stack.urls.fake_google, google_user["sub"], list(ALL_SCOPES), nonce)
    stack.seen.add(code)
    body = {"server_auth_code": code, "nonce": nonce}
    response = api(account, "POST", "/v1/google/native", user, json=body)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "linked"
    replay = api(account, "POST", "/v1/google/native", user, json=body)
    assert replay.status_code == 400 and replay.json()["error"]["field"] == "nonce"
    for bad in (
        {},
        {"server_auth_code": "short", "nonce": nonce},
        {"server_auth_code": "x" * 20},
        {"server_auth_code": "x" * 20, "nonce": nonce, "extra": 1},
    ):
        response = api(account, "POST", "/v1/google/native", user, json=bad)
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize("case", ["other_user_posts", "other_nonce_in_code"])
def test_native_link_bound_to_the_initiator(
    stack: RunningStack, account: str, google_user: dict[str, Any], case: str
) -> None:
    """The forwarded link through the native path: a code consented for A's attempt posted
    by B, or B's code posted by A with A's nonce, links nothing and revokes the grant."""
    alice, bob = stack.auth.create_user(), stack.auth.create_user()
    alice_nonce = api(account, "POST", "/v1/google/link", alice).json()["nonce"]
    bob_nonce = api(account, "POST", "/v1/google/link", bob).json()["nonce"]
    scopes = list(ALL_SCOPES)
    if case == "other_user_posts":
        code = mint_native_code(stack.urls.fake_google, google_user["sub"], scopes, alice_nonce)
        caller, nonce = bob, alice_nonce
    else:
        code = mint_native_code(stack.urls.fake_google, google_user["sub"], scopes, bob_nonce)
        caller, nonce = alice, alice_nonce
    stack.seen.add(code)
    body = {"server_auth_code": code, "nonce": nonce}
    refused = api(account, "POST", "/v1/google/native", caller, json=body)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "permission_denied"
    assert [call["status"] for call in _revocations(stack)] == [200]
    assert not _grant_live(stack, google_user["sub"])
    assert _status(account, alice)["status"] == "not_linked"
    assert _status(account, bob)["status"] == "not_linked"


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
