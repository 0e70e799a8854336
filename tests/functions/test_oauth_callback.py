"""oauth_callback in process: Google's redirect after consent, every result code."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from werkzeug.test import TestResponse

from shared.scopes import Feature
from shared.services.linking import PendingLink, state_hash
from tests.functions.conftest import SETTINGS, World


def started_link(world: World, uid: str = "alice") -> str:
    """The state of a link ``uid`` started through the account API."""
    response = world.function("account_api").post("/v1/google/link", headers=world.user(uid))
    url = response.get_json()["authorization_url"]
    world.journal.clear()
    return parse_qs(urlparse(url).query)["state"][0]


def result_of(response: TestResponse) -> str:
    """The ``result`` the page's link hands back to the app."""
    found = re.search(r'id="back" href="([^"]+)"', response.get_data(as_text=True))
    assert found is not None
    link = found.group(1).replace("&amp;", "&")
    assert link.startswith(SETTINGS.app_deep_link)
    return parse_qs(urlparse(link).query)["result"][0]


def callback(world: World, **query: str) -> TestResponse:
    return world.function("oauth_callback").get("/?" + urlencode(query))


def test_a_granted_consent_links_the_account_and_starts_watches(world: World) -> None:
    state = started_link(world)
    world.oauth.add_code("code-1", "sub-alice", [Feature.DRIVE, Feature.CALENDAR])
    response = callback(world, state=state, code="code-1")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert result_of(response) == "linked"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert world.links.link_status("alice").status == "linked"
    assert world.oauth.verifiers[0]  # the PKCE verifier sealed when the link started
    assert {channel.source for channel in world.channels.of_user("alice")} == {
        "drive",
        "calendar",
    }
    # The state is single use.
    world.oauth.add_code("code-2", "sub-alice")
    assert result_of(callback(world, state=state, code="code-2")) == "invalid_state"


def test_the_page_speaks_the_browsers_language(world: World) -> None:
    response = world.function("oauth_callback").get(
        "/?state=x", headers={"Accept-Language": "en-US,en;q=0.9"}
    )
    assert '<html lang="en">' in response.get_data(as_text=True)
    korean = world.function("oauth_callback").get("/?state=x")
    assert '<html lang="ko">' in korean.get_data(as_text=True)


def test_a_cancelled_consent_exchanges_nothing(world: World) -> None:
    state = started_link(world)
    response = callback(world, state=state, error="access_denied")
    assert (response.status_code, result_of(response)) == (400, "access_denied")
    assert world.journal.google == []
    assert world.links.link_status("alice").status == "not_linked"


def test_an_expired_state(world: World) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    world.links.pending[state_hash("old-state")] = PendingLink("alice", "sealed", past, False)
    response = callback(world, state="old-state", code="code-1")
    assert (response.status_code, result_of(response)) == (400, "expired_state")
    assert world.journal.google == []


def test_exchange_failures(world: World) -> None:
    refused = callback(world, state=started_link(world), code="never-issued")
    assert (refused.status_code, result_of(refused)) == (400, "exchange_failed")

    world.links.link("bob", "sub-shared")
    world.oauth.add_code("code-shared", "sub-shared")
    in_use = callback(world, state=started_link(world), code="code-shared")
    assert result_of(in_use) == "account_in_use"

    world.oauth.add_code("code-bare", "sub-alice")
    grant = world.oauth.grants["code-bare"]
    world.oauth.grants["code-bare"] = type(grant)(**{**grant.__dict__, "refresh_token": None})
    bare = callback(world, state=started_link(world), code="code-bare")
    assert result_of(bare) == "no_refresh_token"
    assert world.links.link_status("alice").status == "not_linked"
    assert world.channels.channels == {}


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"code": "code-1"},
        {"state": "unknown-state", "code": "code-1"},
        {"state": "s" * 201, "code": "code-1"},
        {"state": "", "code": "code-1"},
    ],
    ids=["nothing", "no-state", "unknown", "oversize", "empty"],
)
def test_invalid_states_change_nothing(world: World, query: dict[str, str]) -> None:
    world.oauth.add_code("code-1", "sub-alice")
    response = callback(world, **query)
    assert (response.status_code, result_of(response)) == (400, "invalid_state")
    world.assert_untouched()


def test_a_state_without_a_code_is_invalid_and_exchanges_nothing(world: World) -> None:
    response = callback(world, state=started_link(world))
    assert result_of(response) == "invalid_state"
    assert world.journal.google == []


def test_other_methods_are_405(world: World) -> None:
    client = world.function("oauth_callback")
    for method in ("POST", "PUT", "DELETE"):
        response = client.open("/?state=x&code=y", method=method)
        assert response.status_code == 405
    world.assert_untouched()


def test_an_unexpected_failure_shows_the_generic_page(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(state_hash: str) -> None:
        raise RuntimeError("store down")

    monkeypatch.setattr(world.links, "consume_pending", broken)
    response = callback(world, state="some-state", code="code-1")
    assert (response.status_code, result_of(response)) == (500, "exchange_failed")
    assert "store down" not in response.get_data(as_text=True)
