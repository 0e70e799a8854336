"""GET /v1/me through the running account API function and the Firebase Auth emulator."""

from __future__ import annotations

import base64
import json
import time

import requests

from tests.e2e.conftest import RunningStack


def _reencode(token: str, **changes: object) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{encoded}.{signature}"


def _get_me(stack: RunningStack, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.get(f"{stack.function_url('account_api')}/v1/me", headers=headers, timeout=10)


def test_without_token_is_401_with_stable_code(stack: RunningStack) -> None:
    response = _get_me(stack, None)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert response.headers["X-Request-Id"]


def test_tampered_tokens_are_401(stack: RunningStack) -> None:
    user = stack.auth.create_user()
    tampered = [
        _reencode(user.id_token, aud="another-project"),
        _reencode(user.id_token, iss="https://securetoken.google.com/another-project"),
        _reencode(user.id_token, exp=int(time.time()) - 3600),
        _reencode(user.id_token, sub=""),
        user.id_token[:-10] + "." + "garbage",
        "not-a-jwt",
    ]
    for token in tampered:
        response = _get_me(stack, token)
        assert response.status_code == 401, token
        assert response.json() == {
            "error": {"code": "unauthenticated", "message": "The Firebase ID token is invalid."}
        }


def test_valid_token_returns_own_profile(stack: RunningStack) -> None:
    user = stack.auth.create_user()
    response = _get_me(stack, user.id_token)
    assert response.status_code == 200
    assert response.json() == {
        "uid": user.uid,
        "email": user.email,
        "google": {"status": "not_linked", "scopes": []},
    }


def test_unknown_route_and_wrong_method(stack: RunningStack) -> None:
    base = stack.function_url("account_api")
    assert requests.get(f"{base}/v1/nope", timeout=10).json()["error"]["code"] == "not_found"
    # A newline in the path never reaches our router (the framework's rule cannot match it);
    # the answer is still our JSON error, not Flask's HTML page.
    odd = requests.get(f"{base}/v1/a%0Ab", timeout=10)
    assert odd.status_code == 404 and odd.headers["Content-Type"] == "application/json"
    assert odd.json()["error"]["code"] == "not_found"
    response = requests.post(f"{base}/v1/me", timeout=10)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
