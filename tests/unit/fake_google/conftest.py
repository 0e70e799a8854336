"""Fixtures: one real fake-Google server per session, reset before every test."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest
import requests

from devstack.fake_google import FakeGoogleConfig, OAuthClient, create_app
from devstack.fake_google.server import BackgroundServer

CLIENT_ID = "test-client.apps.googleusercontent.com"
CLIENT_SECRET = "test-secret"
REDIRECT_URI = "http://localhost:8080/oauth/callback"
CALENDAR = "https://www.googleapis.com/auth/calendar"
CALENDAR_READONLY = "https://www.googleapis.com/auth/calendar.readonly"
EMAIL = "https://www.googleapis.com/auth/userinfo.email"
PROFILE = "https://www.googleapis.com/auth/userinfo.profile"


@pytest.fixture(scope="session")
def server() -> Iterator[BackgroundServer]:
    """The fake, serving on a free port for the whole session."""
    client = OAuthClient(CLIENT_ID, CLIENT_SECRET, (REDIRECT_URI,))
    app = create_app(FakeGoogleConfig(clients=(client,)))
    with BackgroundServer(app) as running:
        yield running


@pytest.fixture
def base_url(server: BackgroundServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """The fake's base URL, with state reset and oauthlib allowed to use plain http."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    requests.post(f"{server.base_url}/_control/reset", timeout=5).raise_for_status()
    return server.base_url


@pytest.fixture
def alice(base_url: str) -> dict[str, Any]:
    """A fake Google user."""
    return add_user(base_url, "alice@example.com", "Alice Kim")


def add_user(base_url: str, email: str, name: str) -> dict[str, Any]:
    """Create a user through the control API."""
    response = requests.post(
        f"{base_url}/_control/users", json={"email": email, "name": name}, timeout=5
    )
    response.raise_for_status()
    user: dict[str, Any] = response.json()
    return user


def calls(base_url: str, **filters: str) -> list[dict[str, Any]]:
    """The recorded calls, optionally filtered by api/method."""
    response = requests.get(f"{base_url}/_control/calls", params=filters, timeout=5)
    result: list[dict[str, Any]] = response.json()["calls"]
    return result


@dataclass
class ConsentForm:
    """The parsed consent page."""

    action: str = ""
    hidden: dict[str, str] = field(default_factory=dict)
    users: list[str] = field(default_factory=list)
    checked_user: str | None = None
    scopes: list[str] = field(default_factory=list)
    locked_scopes: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)


class _ConsentParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.form = ConsentForm()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if "id" in values:
            self.form.ids.add(values["id"])
        if tag == "form":
            self.form.action = values["action"]
        if tag != "input":
            return
        if values["type"] == "hidden":
            self.form.hidden[values["name"]] = values["value"]
        elif values["type"] == "radio":
            self.form.users.append(values["value"])
            if "checked" in values:
                self.form.checked_user = values["value"]
        elif values["type"] == "checkbox":
            self.form.scopes.append(values["value"])
            if "disabled" in values:
                self.form.locked_scopes.append(values["value"])


def parse_consent(html: str) -> ConsentForm:
    """Extract the fields a browser would submit from the consent page."""
    parser = _ConsentParser()
    parser.feed(html)
    return parser.form


def consent(
    base_url: str,
    auth_url: str,
    *,
    user_sub: str | None = None,
    untick: tuple[str, ...] = (),
    action: str = "allow",
) -> requests.Response:
    """Open the consent page like a browser, submit it, and return the (unfollowed) answer."""
    page = requests.get(auth_url, timeout=5)
    assert page.status_code == 200, page.text
    form = parse_consent(page.text)
    data: list[tuple[str, str]] = list(form.hidden.items())
    data.append(("action", action))
    chosen = user_sub or form.checked_user
    if chosen:
        data.append(("user", chosen))
    for scope in form.scopes:
        if scope not in form.locked_scopes and scope not in untick:
            data.append(("scope", scope))
    return requests.post(
        urllib.parse.urljoin(base_url, form.action), data=data, allow_redirects=False, timeout=5
    )


def redirect_params(response: requests.Response) -> dict[str, str]:
    """The query parameters of a redirect to REDIRECT_URI."""
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?"), location
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def error_code(html: str) -> str:
    """The error code shown on the authorize error page."""
    found = re.search(r'<span id="error-code">([^<]*)</span>', html)
    assert found, html
    return found.group(1)


def exchange_server_auth_code(
    base_url: str, sub: str, scopes: list[str], **extra: Any
) -> dict[str, Any]:
    """Mint a native sign-in server auth code and exchange it: the quickest way to a token."""
    minted = requests.post(
        f"{base_url}/_control/server_auth_code",
        json={"sub": sub, "scopes": scopes, **extra},
        timeout=5,
    )
    minted.raise_for_status()
    response = requests.post(
        f"{base_url}/token",
        data={
            "grant_type": "authorization_code",
            "code": minted.json()["code"],
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": "",
        },
        timeout=5,
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens
