"""Drive the Google linking flow over plain HTTP, as the app and the browser would."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from google.cloud import firestore

from devstack.drivers.clients import AuthUser

APPROVE_PATH = "/o/oauth2/v2/auth/approve"


def api(base: str, method: str, path: str, user: AuthUser, **kwargs: Any) -> requests.Response:
    """Call a Firebase-authenticated route as ``user``."""
    headers = {"Authorization": f"Bearer {user.id_token}", **kwargs.pop("headers", {})}
    return requests.request(method, f"{base}{path}", headers=headers, timeout=20, **kwargs)


@dataclass
class Consent:
    """A consent URL obtained from the account API, with its state."""

    url: str

    @property
    def query(self) -> str:
        return urlsplit(self.url).query

    @property
    def params(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.query).items()}

    @property
    def state(self) -> str:
        return self.params["state"]


def start_link(account_api: str, user: AuthUser) -> Consent:
    """``POST /v1/google/link`` as ``user``."""
    response = api(account_api, "POST", "/v1/google/link", user)
    assert response.status_code == 200, response.text
    return Consent(response.json()["authorization_url"])


def approve(
    fake_google: str,
    consent: Consent,
    google_sub: str,
    scopes: list[str] | None = None,
    action: str = "allow",
) -> str:
    """Submit the fake consent form; returns the redirect back to our callback."""
    ticked = consent.params["scope"].split() if scopes is None else scopes
    response = requests.post(
        f"{fake_google}{APPROVE_PATH}",
        data={"auth_request": consent.query, "user": google_sub, "scope": ticked, "action": action},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text
    return str(response.headers["Location"])


def follow(callback_url: str, **headers: str) -> requests.Response:
    """The browser following Google's redirect to our OAuth callback."""
    return requests.get(callback_url, headers=headers, allow_redirects=False, timeout=20)


_RESULT = re.compile(r'data-result="([a-z_]+)"')
_COMPLETION = re.compile(r"completion_code=([A-Za-z0-9_-]+)")


def result_of(page: requests.Response) -> str:
    """The result code the callback's page shows."""
    found = _RESULT.search(page.text)
    assert found, page.text
    return found.group(1)


def completion_code(page: requests.Response) -> str:
    """The one-time completion code the callback's page hands the app (deep link)."""
    assert result_of(page) == "approved", page.text
    found = _COMPLETION.search(page.text)
    assert found, page.text
    return found.group(1)


def complete(account_api: str, user: AuthUser, code: str) -> requests.Response:
    """``POST /v1/google/link/complete`` as ``user``: what the app does on the deep link."""
    return api(
        account_api, "POST", "/v1/google/link/complete", user, json={"completion_code": code}
    )


def link_via_consent(
    account_api: str,
    fake_google: str,
    user: AuthUser,
    google_sub: str,
    scopes: list[str] | None = None,
) -> requests.Response:
    """The whole web link as the app and its browser do it: start, consent, callback,
    then complete in the app; returns the completion's response."""
    consent = start_link(account_api, user)
    page = follow(approve(fake_google, consent, google_sub, scopes))
    return complete(account_api, user, completion_code(page))


def mint_native_code(fake_google: str, google_sub: str, scopes: list[str], nonce: str) -> str:
    """A server auth code as native Google Sign-In returns it, started with ``nonce``."""
    response = requests.post(
        f"{fake_google}/_control/server_auth_code",
        json={"sub": google_sub, "scopes": scopes, "nonce": nonce},
        timeout=5,
    )
    response.raise_for_status()
    return str(response.json()["code"])


def all_documents(db: firestore.Client) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every document in the emulator, with its path, depth first."""

    def walk(collections: Iterator[Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        for collection in collections:
            for ref in collection.list_documents():
                snapshot = ref.get()
                if snapshot.exists:
                    yield ref.path, snapshot.to_dict() or {}
                yield from walk(ref.collections())

    yield from walk(db.collections())
