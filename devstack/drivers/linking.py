"""Drive the Google linking flow over plain HTTP, as the app and the browser would."""

from __future__ import annotations

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
