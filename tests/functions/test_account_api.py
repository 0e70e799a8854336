"""account_api in process: profile, linking, devices, preferences, feed, export and erase."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from werkzeug.test import TestResponse

from shared.activity import Kind
from shared.errors import AppError, ErrorCode
from shared.scopes import Feature
from shared.services.linking import PendingLink, state_hash
from tests.functions.conftest import World, error_of
from tests.functions.fakes import activity

DEVICE = "install-0001"
TOKEN = "fcm-token-" + "a" * 40


def registration(**changes: Any) -> dict[str, Any]:
    body = {
        "fcm_token": TOKEN,
        "platform": "android",
        "os_version": "14",
        "app_version": "1.2.3",
        "model": "Pixel 8",
        "locale": "ko-KR",
    }
    return {**body, **changes}


def test_profile_of_a_new_and_a_linked_user(world: World) -> None:
    client = world.function("account_api")
    new = client.get("/v1/me", headers=world.user("alice"))
    assert new.status_code == 200
    assert new.get_json()["google"] == {"status": "not_linked", "scopes": []}
    assert new.headers["X-Request-Id"]

    linked = client.get("/v1/me", headers=world.linked_user("bob", [Feature.GMAIL]))
    assert linked.get_json()["google"]["status"] == "linked"
    assert "https://www.googleapis.com/auth/gmail.metadata" in linked.get_json()["google"]["scopes"]
    world.assert_untouched()


def test_openapi_needs_no_token(world: World) -> None:
    response = world.function("account_api").get("/openapi.json")
    assert response.status_code == 200
    assert response.get_json()["openapi"].startswith("3.1")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer forged"},
    ],
    ids=["none", "basic", "empty", "unknown"],
)
def test_missing_or_bad_id_tokens_are_401(world: World, headers: dict[str, str]) -> None:
    client = world.function("account_api")
    for method, path in [("GET", "/v1/me"), ("DELETE", "/v1/me"), ("PUT", f"/v1/devices/{DEVICE}")]:
        response = client.open(path, method=method, headers=headers, json=registration())
        assert response.status_code == 401
        assert error_of(response)["code"] == "unauthenticated"
    world.assert_untouched()


def test_unknown_route_is_404_and_wrong_method_405(world: World) -> None:
    client = world.function("account_api")
    headers = world.user("alice")
    missing = client.get("/v1/nothing-here", headers=headers)
    assert (missing.status_code, error_of(missing)["code"]) == (404, "not_found")
    wrong = client.patch("/v1/me", headers=headers)
    assert (wrong.status_code, error_of(wrong)["code"]) == (405, "method_not_allowed")
    world.assert_untouched()


def started(world: World, uid: str) -> tuple[str, str]:
    """``uid`` starts a link through the account API: the consent URL's state and the
    native nonce (the journal is cleared afterwards)."""
    response = world.function("account_api").post("/v1/google/link", headers=world.user(uid))
    assert response.status_code == 200
    url = urlparse(response.get_json()["authorization_url"])
    world.journal.clear()
    return parse_qs(url.query)["state"][0], response.get_json()["nonce"]


def native(world: World, uid: str, code: str, nonce: str) -> TestResponse:
    """``uid`` posts a native server auth code with ``nonce``."""
    return world.function("account_api").post(
        "/v1/google/native",
        headers=world.user(uid),
        json={"server_auth_code": code, "nonce": nonce},
    )


def test_link_starts_with_a_consent_url_and_a_nonce_bound_to_the_caller(world: World) -> None:
    response = world.function("account_api").post("/v1/google/link", headers=world.user("alice"))
    assert response.status_code == 200
    body = response.get_json()
    url = urlparse(body["authorization_url"])
    assert parse_qs(url.query)["prompt"] == ["consent"]  # no refresh token yet
    state, nonce = parse_qs(url.query)["state"][0], body["nonce"]
    assert state != nonce
    assert world.journal.writes == ["links.save_pending", "links.save_pending"]
    # Both are stored only as hashes, bound to alice, single use; only the web one has a
    # PKCE verifier, sealed for alice.
    web, mobile = world.links.pending[state_hash(state)], world.links.pending[state_hash(nonce)]
    assert (web.uid, web.kind, web.consumed) == ("alice", "web", False)
    assert (mobile.uid, mobile.kind, mobile.consumed) == ("alice", "native", False)
    assert web.sealed_verifier.startswith("sealed:alice:")
    assert state not in repr(world.links.pending) and nonce not in repr(world.links.pending)
    assert world.journal.google == []  # building the URL calls nobody


def test_native_link_with_the_callers_nonce_stores_the_grant_and_starts_every_watch(
    world: World,
) -> None:
    _, nonce = started(world, "alice")
    world.gmail.addresses["alice"] = "alice@gmail.example.test"
    world.oauth.add_code("server-code-123", "sub-alice", nonce=nonce)
    response = native(world, "alice", "server-code-123", nonce)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "linked"
    assert sorted(body["features"]) == ["calendar", "drive", "gmail"]
    assert world.oauth.verifiers == [None]  # native codes carry no PKCE verifier
    assert world.oauth.revoked == []
    assert {channel.source for channel in world.channels.channels.values()} == {
        "drive",
        "calendar",
    }
    assert world.channels.gmail_owner("alice@gmail.example.test") == "alice"
    client = world.function("account_api")
    assert client.get("/v1/google", headers=world.user("alice")).get_json()["status"] == "linked"

    # The nonce is single use: a second code with it is refused before any exchange.
    world.oauth.add_code("server-code-456", "sub-alice", nonce=nonce)
    world.journal.clear()
    again = native(world, "alice", "server-code-456", nonce)
    assert (again.status_code, error_of(again)["field"]) == (400, "nonce")
    world.assert_untouched()


def test_native_code_whose_id_token_names_another_nonce_is_403_and_revoked(
    world: World,
) -> None:
    _, nonce = started(world, "alice")
    world.oauth.add_code("server-code-123", "sub-alice", nonce="a-nonce-of-another-sign-in")
    response = native(world, "alice", "server-code-123", nonce)
    assert (response.status_code, error_of(response)["code"]) == (403, "permission_denied")
    assert world.oauth.revoked == ["refresh-sub-alice"]
    assert world.links.link_status("alice").status == "not_linked"
    assert "sub-alice" not in world.links.accounts
    assert world.channels.channels == {}
    assert world.journal.writes == ["links.consume_pending"]  # the nonce is spent


def test_native_link_with_another_users_nonce_is_403_and_revoked(world: World) -> None:
    _, bobs_nonce = started(world, "bob")
    # Mallory holds bob's nonce and a code whose ID token carries it.
    world.oauth.add_code("server-code-123", "sub-mallory", nonce=bobs_nonce)
    response = native(world, "mallory", "server-code-123", bobs_nonce)
    assert (response.status_code, error_of(response)["code"]) == (403, "permission_denied")
    assert world.oauth.revoked == ["refresh-sub-mallory"]
    for uid in ("bob", "mallory"):
        assert world.links.link_status(uid).status == "not_linked"
    assert world.links.accounts == {}
    assert world.channels.channels == {}


def test_a_native_grant_backing_a_live_link_is_not_revoked(world: World) -> None:
    world.links.link("bob", "sub-bob")
    _, nonce = started(world, "alice")
    world.oauth.add_code("server-code-123", "sub-bob", nonce="another-nonce-entirely")
    response = native(world, "alice", "server-code-123", nonce)
    assert (response.status_code, error_of(response)["code"]) == (403, "permission_denied")
    assert world.oauth.revoked == []  # Google revokes per user and client: bob would lose it
    assert world.links.link_status("bob").status == "linked"
    assert world.links.link_status("alice").status == "not_linked"


def test_unknown_expired_or_web_nonces_exchange_nothing(world: World) -> None:
    state, _ = started(world, "alice")
    past = datetime.now(UTC) - timedelta(seconds=1)
    expired = "expired-nonce-" + "x" * 20
    world.links.pending[state_hash(expired)] = PendingLink("alice", "", past, False, "native")
    world.oauth.add_code("server-code-123", "sub-alice", nonce=expired)
    world.journal.clear()

    unknown = native(world, "alice", "server-code-123", "never-issued-nonce-" + "y" * 20)
    assert (unknown.status_code, error_of(unknown)["field"]) == (400, "nonce")
    world.assert_untouched()
    # The consent URL's state is no nonce: it cannot link natively (and is spent trying).
    web = native(world, "alice", "server-code-123", state)
    assert (web.status_code, error_of(web)["field"]) == (400, "nonce")
    old = native(world, "alice", "server-code-123", expired)
    assert (old.status_code, error_of(old)["field"]) == (400, "nonce")
    assert world.journal.google == []  # no code was exchanged
    assert world.links.link_status("alice").status == "not_linked"


def test_native_link_failures(world: World) -> None:
    world.links.link("bob", "sub-taken")
    world.user("alice")

    _, nonce = started(world, "alice")
    world.oauth.add_code("code-of-taken-account", "sub-taken", nonce=nonce)
    in_use = native(world, "alice", "code-of-taken-account", nonce)
    assert (in_use.status_code, error_of(in_use)) == (
        409,
        {
            "code": "conflict",
            "message": "This Google account is linked to another user.",
            "field": "server_auth_code",
        },
    )
    assert world.oauth.revoked == []  # it backs bob's link
    assert world.links.link_status("bob").status == "linked"

    _, nonce = started(world, "alice")
    refused = native(world, "alice", "never-issued-code", nonce)
    assert (refused.status_code, error_of(refused)) == (
        400,
        {
            "code": "invalid_request",
            "message": "Google rejected the authorization code.",
            "field": "code",
        },
    )

    _, nonce = started(world, "alice")
    world.oauth.failure = AppError(
        ErrorCode.GOOGLE_UNAVAILABLE, "Google did not answer.", retry_after=5
    )
    down = native(world, "alice", "any-code-1234", nonce)
    assert (down.status_code, error_of(down)["code"]) == (503, "google_unavailable")
    assert down.headers["Retry-After"] == "5"
    # No failed exchange stored anything but the spent nonce.
    assert world.journal.writes == ["links.consume_pending"]
    assert world.links.link_status("alice").status == "not_linked"


def test_native_link_without_a_refresh_token_is_400(world: World) -> None:
    _, nonce = started(world, "alice")
    world.oauth.add_code("code-no-refresh", "sub-alice", nonce=nonce)
    grant = world.oauth.grants["code-no-refresh"]
    world.oauth.grants["code-no-refresh"] = dataclasses.replace(grant, refresh_token=None)
    response = native(world, "alice", "code-no-refresh", nonce)
    assert (response.status_code, error_of(response)["field"]) == (400, "server_auth_code")
    assert world.journal.writes == ["links.consume_pending"]
    assert world.links.link_status("alice").status == "not_linked"


NONCE = "n" * 43  # well formed, never issued


@pytest.mark.parametrize(
    ("request_kwargs", "status", "code", "field"),
    [
        ({"data": "{not json", "content_type": "application/json"}, 400, "invalid_request", None),
        ({"json": {"nonce": NONCE}}, 400, "invalid_request", "server_auth_code"),
        ({"json": {"server_auth_code": "x" * 20}}, 400, "invalid_request", "nonce"),
        (
            {"json": {"server_auth_code": "short", "nonce": NONCE}},
            400,
            "invalid_request",
            "server_auth_code",
        ),
        (
            {"json": {"server_auth_code": "x" * 20, "nonce": NONCE, "extra": 1}},
            400,
            "invalid_request",
            "extra",
        ),
        (
            {"json": {"server_auth_code": "has spaces in it", "nonce": NONCE}},
            400,
            "invalid_request",
            "server_auth_code",
        ),
        (
            {"json": {"server_auth_code": "x" * 20, "nonce": "short"}},
            400,
            "invalid_request",
            "nonce",
        ),
        (
            {"json": {"server_auth_code": "x" * 20, "nonce": "n" * 30 + " spaces"}},
            400,
            "invalid_request",
            "nonce",
        ),
        ({"json": {"server_auth_code": "x" * 20, "nonce": 12345}}, 400, "invalid_request", "nonce"),
        ({"json": ["server_auth_code", "nonce"]}, 400, "invalid_request", None),
        (
            {"data": "server_auth_code=x", "content_type": "application/x-www-form-urlencoded"},
            415,
            "unsupported_media_type",
            None,
        ),
        ({"data": "{}", "content_type": "text/plain"}, 415, "unsupported_media_type", None),
        (
            {"json": {"server_auth_code": "x" * 5000, "nonce": NONCE}},
            413,
            "payload_too_large",
            None,
        ),
    ],
    ids=[
        "bad-json",
        "no-code",
        "no-nonce",
        "short",
        "extra",
        "spaces",
        "short-nonce",
        "nonce-spaces",
        "nonce-number",
        "array",
        "form",
        "text",
        "oversize",
    ],
)
def test_rejected_native_exchanges_change_nothing(
    world: World, request_kwargs: dict[str, Any], status: int, code: str, field: str | None
) -> None:
    response = world.function("account_api").post(
        "/v1/google/native", headers=world.user("alice"), **request_kwargs
    )
    assert response.status_code == status
    error = error_of(response)
    assert error["code"] == code
    if field is not None:
        assert error["field"] == field
    world.assert_untouched()


def test_verify_refreshes_the_token(world: World) -> None:
    response = world.function("account_api").post(
        "/v1/google/verify", headers=world.linked_user("alice")
    )
    assert response.status_code == 200
    assert response.get_json()["status"] == "linked"
    assert world.journal.google == ["oauth.refresh"]


def test_verify_without_a_link_is_409(world: World) -> None:
    response = world.function("account_api").post("/v1/google/verify", headers=world.user("alice"))
    assert (response.status_code, error_of(response)["code"]) == (409, "google_not_linked")
    world.assert_untouched()


def test_verify_when_google_is_down_is_503(world: World) -> None:
    headers = world.linked_user("alice")
    world.credentials.down = True
    response = world.function("account_api").post("/v1/google/verify", headers=headers)
    assert (response.status_code, error_of(response)["code"]) == (503, "google_unavailable")
    assert response.headers["Retry-After"] == "5"
    assert world.links.link_status("alice").status == "linked"


def test_verify_of_a_revoked_grant_turns_the_account_relink_required(world: World) -> None:
    headers = world.linked_user("alice")
    world.credentials.refused.add("alice")
    client = world.function("account_api")
    response = client.post("/v1/google/verify", headers=headers)
    assert (response.status_code, error_of(response)["code"]) == (401, "google_relink_required")
    assert client.get("/v1/google", headers=headers).get_json()["status"] == "relink_required"
    assert world.channels.of_user("alice") == []  # watches stopped
    assert [job.kind for job in world.publisher.published] == [Kind.ACCOUNT_RELINK_REQUIRED]
    again = client.post("/v1/google/verify", headers=headers)
    assert error_of(again)["code"] == "google_relink_required"
    assert len(world.publisher.published) == 1


def test_unlink_stops_watches_revokes_and_deletes(world: World) -> None:
    headers = world.linked_user("alice")
    client = world.function("account_api")
    response = client.delete("/v1/google", headers=headers)
    assert response.status_code == 204
    assert world.oauth.revoked == ["refresh-sub-alice"]
    assert world.channels.of_user("alice") == []
    assert "gmail.stop" in world.journal.google
    assert client.get("/v1/google", headers=headers).get_json()["status"] == "not_linked"


def test_erase_and_export(world: World) -> None:
    headers = world.linked_user("alice")
    world.linked_user("bob")
    started(world, "alice")  # an unfinished link attempt is erased too
    client = world.function("account_api")
    export = client.get("/v1/me/export", headers=headers)
    assert export.status_code == 200
    assert export.get_json()["uid"] == "alice"
    assert "refresh" not in export.get_data(as_text=True)
    assert client.delete("/v1/me", headers=headers).status_code == 204
    assert "alice" not in world.links.users
    assert [p for p in world.links.pending.values() if p.uid == "alice"] == []
    assert world.oauth.revoked == ["refresh-sub-alice"]
    # Records first, then the Auth user; then a second sweep of what a request re-created.
    assert world.auth.deleted == ["alice"]
    writes = world.journal.writes
    assert writes.count("links.delete_everything") == 2
    assert world.journal.google.index("oauth.revoke") < world.journal.google.index(
        "auth.delete_user"
    )
    # Alice's token is refused from now on (check_revoked); bob is untouched.
    gone = client.get("/v1/me", headers=headers)
    assert (gone.status_code, error_of(gone)["code"]) == (401, "unauthenticated")
    assert world.links.link_status("bob").status == "linked"
    assert world.auth.verify("id-token-bob").uid == "bob"


def test_erase_when_firebase_auth_is_down_is_503_and_can_be_retried(world: World) -> None:
    headers = world.linked_user("alice")
    client = world.function("account_api")
    world.auth.down = True
    failed = client.delete("/v1/me", headers=headers)
    assert (failed.status_code, error_of(failed)["code"]) == (503, "google_unavailable")
    assert failed.headers["Retry-After"] == "5"
    assert "alice" not in world.links.users  # the records went first
    world.auth.down = False
    assert client.delete("/v1/me", headers=headers).status_code == 204
    assert world.auth.deleted == ["alice"]
    assert client.get("/v1/me", headers=headers).status_code == 401


def test_devices_register_refresh_list_and_delete(world: World) -> None:
    headers = world.user("alice")
    client = world.function("account_api")
    created = client.put(f"/v1/devices/{DEVICE}", headers=headers, json=registration())
    assert created.status_code == 201
    refreshed = client.put(
        f"/v1/devices/{DEVICE}", headers=headers, json=registration(os_version="15")
    )
    assert refreshed.status_code == 200
    listing = client.get("/v1/devices", headers=headers)
    (device,) = listing.get_json()["devices"]
    assert device["os_version"] == "15" and len(device["token_fingerprint"]) == 12
    assert TOKEN not in listing.get_data(as_text=True)
    assert client.delete(f"/v1/devices/{DEVICE}", headers=headers).status_code == 204
    assert client.delete(f"/v1/devices/{DEVICE}", headers=headers).status_code == 204
    assert world.devices.of_user("alice") == []
    assert world.journal.google == []


@pytest.mark.parametrize(
    ("path", "request_kwargs", "status", "field"),
    [
        ("/v1/devices/short", {"json": registration()}, 400, "device_id"),
        ("/v1/devices/has%20space%20in", {"json": registration()}, 400, "device_id"),
        ("/v1/devices/" + "x" * 65, {"json": registration()}, 400, "device_id"),
        (f"/v1/devices/{DEVICE}", {"json": registration(platform="symbian")}, 400, "platform"),
        (f"/v1/devices/{DEVICE}", {"json": registration(fcm_token="short")}, 400, "fcm_token"),
        (f"/v1/devices/{DEVICE}", {"json": registration(locale="not a locale")}, 400, "locale"),
        (
            f"/v1/devices/{DEVICE}",
            {"json": registration(advertising_id="nope")},
            400,
            "advertising_id",
        ),
        (f"/v1/devices/{DEVICE}", {"json": registration(os_version=14)}, 400, "os_version"),
        (f"/v1/devices/{DEVICE}", {"json": registration(surprise=True)}, 400, "surprise"),
        (f"/v1/devices/{DEVICE}", {"data": "{", "content_type": "application/json"}, 400, None),
        (f"/v1/devices/{DEVICE}", {"data": "{}", "content_type": "text/plain"}, 415, None),
        (f"/v1/devices/{DEVICE}", {"json": registration(model="m" * 5000)}, 413, None),
    ],
)
def test_rejected_device_registrations_change_nothing(
    world: World, path: str, request_kwargs: dict[str, Any], status: int, field: str | None
) -> None:
    response = world.function("account_api").put(
        path, headers=world.user("alice"), **request_kwargs
    )
    assert response.status_code == status
    if field is not None:
        assert error_of(response)["field"] == field
    world.assert_untouched()


def test_bad_device_id_on_delete_is_400(world: World) -> None:
    response = world.function("account_api").delete(
        "/v1/devices/bad!id!!", headers=world.user("alice")
    )
    assert (response.status_code, error_of(response)["field"]) == (400, "device_id")
    world.assert_untouched()


def test_preferences_default_then_replaced(world: World) -> None:
    headers = world.user("alice")
    client = world.function("account_api")
    assert client.get("/v1/preferences", headers=headers).get_json() == {
        "categories": {"mail": True, "drive": True, "calendar": True},
        "preview": True,
        "notify_own_changes": False,
        "muted_calendars": [],
    }
    wanted = {
        "categories": {"mail": True, "drive": False, "calendar": True},
        "preview": False,
        "quiet_hours": {"start": "23:00", "end": "07:00", "time_zone": "Asia/Seoul"},
        "notify_own_changes": True,
        "muted_calendars": ["c_team@group.calendar.google.com"],
    }
    assert client.put("/v1/preferences", headers=headers, json=wanted).get_json() == wanted
    assert client.get("/v1/preferences", headers=headers).get_json() == wanted


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"quiet_hours": {"start": "07:00", "end": "07:00", "time_zone": "Asia/Seoul"}},
            "quiet_hours",
        ),
        (
            {"quiet_hours": {"start": "25:00", "end": "07:00", "time_zone": "Asia/Seoul"}},
            "quiet_hours.start",
        ),
        (
            {"quiet_hours": {"start": "22:00", "end": "07:00", "time_zone": "Mars/Olympus"}},
            "quiet_hours.time_zone",
        ),
        ({"categories": {"mail": "yes"}}, "categories.mail"),
        ({"categories": {"fax": True}}, "categories.fax"),
        ({"preview": 1}, "preview"),
    ],
)
def test_rejected_preferences_change_nothing(
    world: World, body: dict[str, Any], field: str
) -> None:
    response = world.function("account_api").put(
        "/v1/preferences", headers=world.user("alice"), json=body
    )
    assert (response.status_code, error_of(response)["field"]) == (400, field)
    world.assert_untouched()


def test_activity_feed_pages_newest_first_and_filters(world: World) -> None:
    headers = world.user("alice")
    start = datetime.now(UTC) - timedelta(minutes=10)
    items = [
        activity(Kind.MAIL_RECEIVED, f"msg{n}", now=start + timedelta(minutes=n)) for n in range(3)
    ] + [activity(Kind.DRIVE_CHANGED, "file1", now=start + timedelta(minutes=5))]
    world.sync.record("alice", items, start)
    world.sync.record("bob", [activity(Kind.MAIL_RECEIVED, "other-user")], start)
    world.journal.clear()
    client = world.function("account_api")

    first = client.get("/v1/activity?limit=2", headers=headers).get_json()
    assert [item["resource_id"] for item in first["items"]] == ["file1", "msg2"]
    rest = client.get(
        f"/v1/activity?limit=2&page_token={first['next_page_token']}", headers=headers
    ).get_json()
    assert [item["resource_id"] for item in rest["items"]] == ["msg1", "msg0"]
    assert "next_page_token" not in rest
    mail = client.get("/v1/activity?category=drive", headers=headers).get_json()
    assert [item["resource_id"] for item in mail["items"]] == ["file1"]
    world.assert_untouched()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("since=yesterday", "since"),
        ("category=fax", "category"),
        ("page_token=not-base64-json", "page_token"),
        ("page_token=" + "a" * 600, "page_token"),
        ("sort=asc", "sort"),
    ],
)
def test_rejected_feed_queries(world: World, query: str, field: str) -> None:
    response = world.function("account_api").get(
        f"/v1/activity?{query}", headers=world.user("alice")
    )
    assert (response.status_code, error_of(response)["field"]) == (400, field)
    world.assert_untouched()


def test_an_unexpected_failure_is_a_generic_500(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(uid: str) -> None:
        raise RuntimeError("secret detail of alice@example.com")

    monkeypatch.setattr(world.preferences, "get", broken)
    response = world.function("account_api").get("/v1/preferences", headers=world.user("alice"))
    assert response.status_code == 500
    assert error_of(response) == {"code": "internal", "message": "Internal error."}
    assert "secret" not in response.get_data(as_text=True)
