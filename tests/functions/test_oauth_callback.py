"""oauth_callback in process: Google's redirect after consent, every result code; and the
app's completion of the link (``POST /v1/google/link/complete`` of account_api)."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from werkzeug.test import TestResponse

from shared.scopes import Feature
from shared.services.linking import COMPLETION_TTL, PendingLink, state_hash
from tests.functions.conftest import SETTINGS, World, error_of


def started_link(world: World, uid: str = "alice") -> str:
    """The state of a link ``uid`` started through the account API."""
    response = world.function("account_api").post("/v1/google/link", headers=world.user(uid))
    url = response.get_json()["authorization_url"]
    world.journal.clear()
    return parse_qs(urlparse(url).query)["state"][0]


def deep_link_of(response: TestResponse) -> dict[str, list[str]]:
    """The query of the page's link back to the app."""
    found = re.search(r'id="back" href="([^"]+)"', response.get_data(as_text=True))
    assert found is not None
    link = found.group(1).replace("&amp;", "&")
    assert link.startswith(SETTINGS.app_deep_link)
    return parse_qs(urlparse(link).query)


def result_of(response: TestResponse) -> str:
    """The ``result`` the page's link hands back to the app."""
    return deep_link_of(response)["result"][0]


def callback(world: World, **query: str) -> TestResponse:
    return world.function("oauth_callback").get("/?" + urlencode(query))


def approved(world: World, uid: str, sub: str, features: list[Feature] | None = None) -> str:
    """``uid`` starts a link and Google account ``sub`` consents: the completion code the
    deep link carries (the journal is cleared afterwards)."""
    state = started_link(world, uid)
    world.oauth.add_code(f"code-{uid}-{sub}", sub, features or list(Feature))
    response = callback(world, state=state, code=f"code-{uid}-{sub}")
    assert (response.status_code, result_of(response)) == (200, "approved")
    world.journal.clear()
    return deep_link_of(response)["completion_code"][0]


def complete(world: World, uid: str, code: object) -> TestResponse:
    return world.function("account_api").post(
        "/v1/google/link/complete", headers=world.user(uid), json={"completion_code": code}
    )


def test_a_granted_consent_is_kept_for_the_app_and_links_nothing_yet(world: World) -> None:
    state = started_link(world)
    world.oauth.add_code("code-1", "sub-alice", [Feature.DRIVE, Feature.CALENDAR])
    before = datetime.now(UTC)
    response = callback(world, state=state, code="code-1")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    query = deep_link_of(response)
    assert query["result"] == ["approved"]
    (code,) = query["completion_code"]
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert world.oauth.verifiers[0]  # the PKCE verifier sealed when the link started
    # Nothing linked, no watch started, nothing revoked: the grant waits for alice's app.
    assert world.links.link_status("alice").status == "not_linked"
    assert world.links.accounts == {}
    assert world.channels.channels == {}
    assert world.oauth.revoked == []
    assert world.journal.writes == ["links.consume_pending", "links.save_completion"]
    assert world.journal.google == ["oauth.token"]
    # Kept under the code's hash only, tokens sealed for alice, for COMPLETION_TTL.
    kept = world.links.completions[state_hash(code)]
    assert (kept.uid, kept.sub) == ("alice", "sub-alice")
    assert kept.sealed_refresh == "sealed:alice:refresh-sub-alice"
    assert kept.sealed_access == "sealed:alice:access-sub-alice"
    assert before + COMPLETION_TTL <= kept.expires_at <= datetime.now(UTC) + COMPLETION_TTL
    assert code not in repr(world.links.completions)
    # The state is single use.
    world.oauth.add_code("code-2", "sub-alice")
    assert result_of(callback(world, state=state, code="code-2")) == "invalid_state"
    assert len(world.links.completions) == 1


def test_completion_by_the_initiator_links_and_starts_watches(world: World) -> None:
    code = approved(world, "alice", "sub-alice", [Feature.DRIVE, Feature.CALENDAR])
    response = complete(world, "alice", code)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "linked"
    assert sorted(body["features"]) == ["calendar", "drive"]
    assert world.links.accounts == {"sub-alice": "alice"}
    assert world.links.secrets["alice"]["refresh_token"] == "sealed:alice:refresh-sub-alice"
    assert {channel.source for channel in world.channels.of_user("alice")} == {
        "drive",
        "calendar",
    }
    assert world.links.completions == {}
    assert world.oauth.revoked == []
    # The code is single use: presenting it again changes nothing.
    world.journal.clear()
    again = complete(world, "alice", code)
    assert (again.status_code, error_of(again)["field"]) == (400, "completion_code")
    world.assert_untouched()


def test_completion_by_another_user_is_403_links_nothing_and_revokes(world: World) -> None:
    code = approved(world, "alice", "sub-alice")
    stolen = complete(world, "mallory", code)
    assert (stolen.status_code, error_of(stolen)["code"]) == (403, "permission_denied")
    assert world.oauth.revoked == ["refresh-sub-alice"]
    for uid in ("alice", "mallory"):
        assert world.links.link_status(uid).status == "not_linked"
    assert world.links.accounts == {}
    assert world.channels.channels == {}
    assert world.links.completions == {}
    assert world.journal.writes == ["links.take_completion"]
    # The grant is gone: alice's own completion with the code is refused too.
    late = complete(world, "alice", code)
    assert (late.status_code, error_of(late)["field"]) == (400, "completion_code")
    assert world.links.link_status("alice").status == "not_linked"


def test_a_refused_completion_of_a_grant_backing_a_live_link_is_not_revoked(
    world: World,
) -> None:
    # Alice's consent URL reached bob, who consented with his already linked account.
    world.links.link("bob", "sub-bob")
    code = approved(world, "alice", "sub-bob")
    stolen = complete(world, "mallory", code)
    assert (stolen.status_code, error_of(stolen)["code"]) == (403, "permission_denied")
    assert world.oauth.revoked == []  # revoking would unlink bob (per user and client)
    assert world.links.link_status("bob").status == "linked"


def test_an_expired_completion_code_is_400_links_nothing_and_revokes(world: World) -> None:
    code = approved(world, "alice", "sub-alice")
    kept = world.links.completions[state_hash(code)]
    past = datetime.now(UTC) - timedelta(seconds=1)
    world.links.completions[state_hash(code)] = dataclasses.replace(kept, expires_at=past)
    response = complete(world, "alice", code)
    assert (response.status_code, error_of(response)["field"]) == (400, "completion_code")
    assert world.links.link_status("alice").status == "not_linked"
    assert world.channels.channels == {}
    assert world.links.completions == {}
    assert world.oauth.revoked == ["refresh-sub-alice"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"completion_code": "c" * 43}, "completion_code"),  # well formed, never issued
        ({"completion_code": "short"}, "completion_code"),
        ({"completion_code": "c" * 30 + " spaces"}, "completion_code"),
        ({"completion_code": "c" * 201}, "completion_code"),
        ({"completion_code": 12345}, "completion_code"),
        ({}, "completion_code"),
        ({"completion_code": "c" * 43, "uid": "alice"}, "uid"),
    ],
    ids=["unknown", "short", "spaces", "long", "number", "missing", "extra"],
)
def test_bad_completion_codes_change_nothing(
    world: World, body: dict[str, object], field: str
) -> None:
    approved(world, "alice", "sub-alice")
    response = world.function("account_api").post(
        "/v1/google/link/complete", headers=world.user("alice"), json=body
    )
    assert (response.status_code, error_of(response)["field"]) == (400, field)
    world.assert_untouched()
    assert len(world.links.completions) == 1  # alice's real code still works


def test_completion_needs_an_id_token(world: World) -> None:
    code = approved(world, "alice", "sub-alice")
    response = world.function("account_api").post(
        "/v1/google/link/complete", json={"completion_code": code}
    )
    assert (response.status_code, error_of(response)["code"]) == (401, "unauthenticated")
    world.assert_untouched()
    assert complete(world, "alice", code).status_code == 200


def test_completion_failures(world: World) -> None:
    world.links.link("bob", "sub-shared")
    in_use = complete(world, "alice", approved(world, "alice", "sub-shared"))
    assert (in_use.status_code, error_of(in_use)) == (
        409,
        {
            "code": "conflict",
            "message": "This Google account is linked to another user.",
            "field": "completion_code",
        },
    )
    assert world.oauth.revoked == []  # it backs bob's link
    assert world.links.link_status("bob").status == "linked"

    world.oauth.add_code("code-bare", "sub-alice")
    grant = world.oauth.grants["code-bare"]
    world.oauth.grants["code-bare"] = dataclasses.replace(grant, refresh_token=None)
    bare_page = callback(world, state=started_link(world), code="code-bare")
    assert result_of(bare_page) == "approved"
    bare = complete(world, "alice", deep_link_of(bare_page)["completion_code"][0])
    assert (bare.status_code, error_of(bare)["field"]) == (400, "completion_code")
    assert "refresh token" in error_of(bare)["message"]
    assert world.links.link_status("alice").status == "not_linked"
    assert world.channels.channels == {}


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


def test_a_code_google_refuses_is_exchange_failed(world: World) -> None:
    refused = callback(world, state=started_link(world), code="never-issued")
    assert (refused.status_code, result_of(refused)) == (400, "exchange_failed")
    assert "completion_code" not in deep_link_of(refused)
    assert world.journal.writes == ["links.consume_pending"]  # only the state is spent
    assert world.links.completions == {}
    assert world.links.link_status("alice").status == "not_linked"


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
