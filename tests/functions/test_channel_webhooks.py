"""calendar_webhook and drive_webhook in process: Google's channel notifications
(https://developers.google.com/workspace/drive/api/guides/push#understand-notification-message-format)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from shared.activity import Kind
from shared.errors import AppError, ErrorCode
from shared.google_errors import GoogleFailure
from shared.ports.sync import SourceKind, SyncKey
from shared.ports.watches import Channel
from tests.functions.conftest import World, error_of
from tests.functions.fakes import FakeChannelSource, activity

WEBHOOKS = {SourceKind.CALENDAR: "calendar_webhook", SourceKind.DRIVE: "drive_webhook"}
ITEM_KIND = {SourceKind.CALENDAR: Kind.CALENDAR_CHANGED, SourceKind.DRIVE: Kind.DRIVE_CHANGED}


@pytest.fixture(params=[SourceKind.CALENDAR, SourceKind.DRIVE], ids=lambda kind: kind.value)
def kind(request: pytest.FixtureRequest) -> SourceKind:
    return SourceKind(request.param)


def source_of(world: World, kind: SourceKind) -> FakeChannelSource:
    return world.calendar_source if kind is SourceKind.CALENDAR else world.drive


def channel_of(world: World, kind: SourceKind, uid: str = "alice") -> Channel:
    (channel,) = [c for c in world.channels.of_user(uid) if c.source == kind.value]
    return channel


def headers_of(world: World, channel: Channel, state: str = "exists") -> dict[str, str]:
    """What Google sends for ``channel``: its id, our secret token, the resource id."""
    source = world.drive if channel.source == "drive" else world.calendar_source
    return {
        "X-Goog-Channel-ID": channel.id,
        "X-Goog-Channel-Token": source.open[channel.id].token,
        "X-Goog-Resource-ID": channel.resource_id,
        "X-Goog-Resource-State": state,
        "X-Goog-Message-Number": "2",
        "X-Goog-Resource-URI": "https://www.googleapis.com/drive/v3/changes?alt=json",
    }


def cursor_key(kind: SourceKind, uid: str = "alice") -> SyncKey:
    return SyncKey(uid, kind, "primary" if kind is SourceKind.CALENDAR else "")


def test_the_handshake_is_acknowledged_without_a_sync(world: World, kind: SourceKind) -> None:
    world.linked_user("alice")
    headers = headers_of(world, channel_of(world, kind), state="sync")
    response = world.function(WEBHOOKS[kind]).post("/", headers=headers)
    assert response.status_code == 200
    world.assert_untouched()


def test_a_notification_syncs_records_and_publishes(world: World, kind: SourceKind) -> None:
    world.linked_user("alice")
    source_of(world, kind).batches.append([activity(ITEM_KIND[kind], "res1", title="Plan")])
    response = world.function(WEBHOOKS[kind]).post(
        "/", headers=headers_of(world, channel_of(world, kind))
    )
    assert response.status_code == 200
    assert world.journal.google == [f"{kind.value}.fetch"]
    assert [item.resource_id for item in world.sync.activity["alice"].values()] == ["res1"]
    assert [job.kind for job in world.publisher.published] == [ITEM_KIND[kind]]
    assert world.sync.outboxes["alice"] == {}
    assert world.sync.leases == {}  # released after the pass
    cursor = world.sync.cursor_of(cursor_key(kind))
    assert cursor is not None and cursor["cursor"] == str(source_of(world, kind).position)


def test_a_notification_during_a_pass_only_marks_the_source_dirty(
    world: World, kind: SourceKind
) -> None:
    world.linked_user("alice")
    key = cursor_key(kind)
    world.sync.leases[(key.uid, key.doc_id)] = (
        "another-instance",
        datetime.now(UTC) + timedelta(minutes=1),
        None,
    )
    response = world.function(WEBHOOKS[kind]).post(
        "/", headers=headers_of(world, channel_of(world, kind))
    )
    assert response.status_code == 200
    assert world.journal.writes == ["sync.dirty"]
    assert world.journal.google == []


def test_an_account_that_cannot_sync_is_acknowledged(world: World, kind: SourceKind) -> None:
    world.linked_user("alice")
    source_of(world, kind).failure = AppError(ErrorCode.GOOGLE_RELINK_REQUIRED, "Link again.")
    response = world.function(WEBHOOKS[kind]).post(
        "/", headers=headers_of(world, channel_of(world, kind))
    )
    assert response.status_code == 200  # Google must not retry: only the user can fix it
    assert world.sync.leases == {}
    assert world.publisher.published == []


def test_a_google_outage_fails_the_notification_and_leaves_the_source_dirty(
    world: World, kind: SourceKind
) -> None:
    world.linked_user("alice")
    source_of(world, kind).failure = GoogleFailure(503, "backendError")
    response = world.function(WEBHOOKS[kind]).post(
        "/", headers=headers_of(world, channel_of(world, kind))
    )
    assert response.status_code == 500
    assert error_of(response) == {"code": "internal", "message": "Internal error."}
    assert world.sync.leases == {}
    cursor = world.sync.cursor_of(cursor_key(kind))
    assert cursor is not None and cursor["dirty"]  # reconcile picks it up


FORGERIES = {
    "no-headers": lambda h: {},
    "unknown-channel": lambda h: {**h, "X-Goog-Channel-ID": "0c8a3f7e-unknown"},
    "wrong-token": lambda h: {**h, "X-Goog-Channel-Token": "guessed-secret"},
    "no-token": lambda h: {k: v for k, v in h.items() if k != "X-Goog-Channel-Token"},
    "wrong-resource": lambda h: {**h, "X-Goog-Resource-ID": "another-resource"},
    "no-state": lambda h: {k: v for k, v in h.items() if k != "X-Goog-Resource-State"},
    "malformed-id": lambda h: {**h, "X-Goog-Channel-ID": "../" + h["X-Goog-Channel-ID"]},
    "oversize-id": lambda h: {**h, "X-Goog-Channel-ID": "a" * 65},
    "oversize-token": lambda h: {**h, "X-Goog-Channel-Token": "t" * 257},
    "oversize-resource": lambda h: {**h, "X-Goog-Resource-ID": "r" * 513},
    "oversize-state": lambda h: {**h, "X-Goog-Resource-State": "s" * 33},
}


@pytest.mark.parametrize("forgery", FORGERIES)
def test_forged_or_malformed_headers_are_401_and_do_nothing(
    world: World, kind: SourceKind, forgery: str
) -> None:
    world.linked_user("alice")
    headers = FORGERIES[forgery](headers_of(world, channel_of(world, kind)))
    response = world.function(WEBHOOKS[kind]).post("/", headers=headers)
    assert response.status_code == 401
    assert error_of(response) == {"code": "unauthenticated", "message": "Notification rejected."}
    world.assert_untouched()


def test_a_channel_of_the_other_source_is_rejected(world: World, kind: SourceKind) -> None:
    world.linked_user("alice")
    other = SourceKind.DRIVE if kind is SourceKind.CALENDAR else SourceKind.CALENDAR
    response = world.function(WEBHOOKS[kind]).post(
        "/", headers=headers_of(world, channel_of(world, other))
    )
    assert response.status_code == 401
    world.assert_untouched()


def test_an_expired_or_stopped_channel_is_rejected(world: World, kind: SourceKind) -> None:
    world.linked_user("alice")
    channel = channel_of(world, kind)
    headers = headers_of(world, channel)
    expired = dataclasses.replace(channel, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    world.channels.channels[channel.id] = expired
    client = world.function(WEBHOOKS[kind])
    assert client.post("/", headers=headers).status_code == 401
    del world.channels.channels[channel.id]
    assert client.post("/", headers=headers).status_code == 401
    world.assert_untouched()


def test_other_methods_paths_and_large_bodies(world: World, kind: SourceKind) -> None:
    world.linked_user("alice")
    headers = headers_of(world, channel_of(world, kind))
    client = world.function(WEBHOOKS[kind])
    wrong_method = client.get("/", headers=headers)
    assert (wrong_method.status_code, error_of(wrong_method)["code"]) == (405, "method_not_allowed")
    wrong_path = client.post("/elsewhere", headers=headers)
    assert (wrong_path.status_code, error_of(wrong_path)["code"]) == (404, "not_found")
    large = client.post("/", headers=headers, data=b"x" * 5000)
    assert (large.status_code, error_of(large)["code"]) == (413, "payload_too_large")
    world.assert_untouched()
