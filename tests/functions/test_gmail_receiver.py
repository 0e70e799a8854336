"""gmail_receiver in process: Gmail ``users.watch`` notifications delivered by Pub/Sub
(https://developers.google.com/workspace/gmail/api/guides/push#receiving_notifications)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from shared.activity import Kind
from shared.errors import AppError, ErrorCode
from shared.google_errors import GoogleFailure
from shared.ports.sync import SourceKind, SyncKey
from shared.scopes import Feature
from tests.functions.conftest import Mode, World, post_event, publish, pubsub_envelope
from tests.functions.fakes import activity

ADDRESS = "alice@gmail.example.test"


@pytest.fixture
def alice(world: World) -> str:
    world.linked_user("alice", [Feature.GMAIL])
    return "alice"


def stored_cursor(world: World) -> str:
    cursor = world.sync.cursor_of(SyncKey("alice", SourceKind.GMAIL))
    assert cursor is not None
    return str(cursor["cursor"])


@pytest.mark.parametrize("mode", ["binary", "structured", "raw"])
def test_a_notification_syncs_the_mailbox(
    world: World, alice: str, mode: Mode, caplog: pytest.LogCaptureFixture
) -> None:
    world.gmail.batches.append([activity(Kind.MAIL_RECEIVED, "msg-1", title="Quarterly plan")])
    response = publish(
        world.function("gmail_receiver"), {"emailAddress": ADDRESS, "historyId": 101}, mode=mode
    )
    assert response.status_code == 200
    assert world.journal.google == ["gmail.fetch"]
    assert [job.kind for job in world.publisher.published] == [Kind.MAIL_RECEIVED]
    assert stored_cursor(world) == str(world.gmail.position)
    assert ADDRESS not in caplog.text and "Quarterly plan" not in caplog.text


def test_addresses_match_whatever_their_case(world: World, alice: str) -> None:
    message = {"emailAddress": ADDRESS.upper(), "historyId": "102"}
    assert publish(world.function("gmail_receiver"), message).status_code == 200
    assert world.journal.google == ["gmail.fetch"]


def test_a_stale_notification_is_acknowledged_without_a_sync(world: World, alice: str) -> None:
    message = {"emailAddress": ADDRESS, "historyId": int(stored_cursor(world))}
    assert publish(world.function("gmail_receiver"), message).status_code == 200
    world.assert_untouched()


def test_an_unknown_address_is_acknowledged(world: World, alice: str) -> None:
    message = {"emailAddress": "stranger@gmail.example.test", "historyId": 999}
    assert publish(world.function("gmail_receiver"), message).status_code == 200
    world.assert_untouched()


def test_an_account_that_cannot_sync_is_acknowledged(world: World, alice: str) -> None:
    world.gmail.failure = AppError(ErrorCode.SCOPE_NOT_GRANTED, "Not granted.")
    message = {"emailAddress": ADDRESS, "historyId": 200}
    assert publish(world.function("gmail_receiver"), message).status_code == 200
    assert world.sync.leases == {}


def test_a_google_outage_is_retried_by_pubsub(world: World, alice: str) -> None:
    world.gmail.failure = GoogleFailure(503, "backendError")
    message = {"emailAddress": ADDRESS, "historyId": 200}
    response = publish(world.function("gmail_receiver"), message)
    assert response.status_code == 500  # not acknowledged: Pub/Sub redelivers with backoff
    assert world.sync.leases == {}
    cursor = world.sync.cursor_of(SyncKey("alice", SourceKind.GMAIL))
    assert cursor is not None and cursor["dirty"]


def _data(raw: bytes) -> dict[str, Any]:
    return pubsub_envelope(raw)


MALFORMED: dict[str, Any] = {
    "not-base64": {"message": {"data": "%%% not base64 %%%"}},
    "no-data": {"message": {"messageId": "1"}},
    "no-message": {"subscription": "s"},
    "envelope-is-a-list": [1, 2],
    "envelope-is-a-string": "hello",
    "not-json": _data(b"\xff\xfe not json"),
    "json-array": _data(b"[1, 2]"),
    "no-address": _data(json.dumps({"historyId": 5}).encode()),
    "no-history": _data(json.dumps({"emailAddress": ADDRESS}).encode()),
    "history-not-a-number": _data(json.dumps({"emailAddress": ADDRESS, "historyId": "x"}).encode()),
    "history-zero": _data(json.dumps({"emailAddress": ADDRESS, "historyId": 0}).encode()),
    "history-negative": _data(json.dumps({"emailAddress": ADDRESS, "historyId": -5}).encode()),
    "address-not-text": _data(json.dumps({"emailAddress": 42, "historyId": 5}).encode()),
    "address-too-long": _data(
        json.dumps({"emailAddress": "a" * 320 + "@x.test", "historyId": 5}).encode()
    ),
    "base64-of-base64": {"message": {"data": base64.b64encode(b"e30=").decode()}},
}


@pytest.mark.parametrize("envelope", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_malformed_messages_are_acknowledged_and_do_nothing(
    world: World, alice: str, envelope: Any, mode: Mode
) -> None:
    response = post_event(world.function("gmail_receiver"), envelope, mode=mode)
    assert response.status_code == 200  # a poison message must not come back forever
    world.assert_untouched()


def test_a_request_that_is_no_cloudevent_is_refused(world: World, alice: str) -> None:
    client = world.function("gmail_receiver")
    assert client.post("/", data=b"hello", content_type="text/plain").status_code == 415
    assert client.post("/", json={"hello": "world"}).status_code == 400
    assert client.get("/").status_code == 405
    world.assert_untouched()


@pytest.mark.parametrize("target", ["gmail_receiver", "watch_maintenance", "push_dispatch"])
def test_a_refused_request_is_answered_without_echoing_it(world: World, target: str) -> None:
    client = world.function(target)
    secret = "Bearer secret-token-value"
    response = client.post(
        "/", json={"hello": "private@example.com"}, headers={"Authorization": secret}
    )
    assert response.status_code == 400
    assert response.get_json() == {
        "error": {"code": "invalid_request", "message": "Request rejected."}
    }
    assert b"secret-token-value" not in response.data and b"private@" not in response.data
    world.assert_untouched()
