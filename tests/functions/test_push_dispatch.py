"""push_dispatch in process: push jobs from ``push-jobs`` to the user's devices via FCM."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.activity import Kind, PushJob
from shared.services.preferences import Categories, Preferences
from shared.services.push import SendResult, SendStatus
from tests.functions.conftest import Mode, World, post_event, pubsub_envelope
from tests.functions.fakes import activity, device


def job_for(world: World, uid: str = "alice", kind: Kind = Kind.MAIL_RECEIVED) -> PushJob:
    """A job as a sync pass commits it (feed item stored, job in the outbox)."""
    (job,) = world.sync.record(uid, [activity(kind, "msg-1", title="Hello")], datetime.now(UTC))
    return job


def deliver(world: World, job: PushJob | dict[str, Any], mode: Mode = "binary") -> int:
    raw = job.model_dump_json() if isinstance(job, PushJob) else json.dumps(job)
    client = world.function("push_dispatch")
    return post_event(client, pubsub_envelope(raw.encode(), "push-jobs"), mode=mode).status_code


@pytest.fixture
def job(world: World) -> PushJob:
    world.devices.upsert("alice", device("phone-0001"))
    world.devices.upsert("alice", device("tablet-0001", locale="en-US"))
    made = job_for(world)
    world.journal.clear()
    return made


@pytest.mark.parametrize("mode", ["binary", "structured", "raw"])
def test_a_job_reaches_each_device_once(world: World, job: PushJob, mode: Mode) -> None:
    assert deliver(world, job, mode) == 200
    titles = sorted((message.body, token.split("-")[1]) for message, token in world.fcm.sent)
    assert titles == [("Hello", "phone"), ("Hello", "tablet")]
    assert deliver(world, job, mode) == 200  # Pub/Sub delivered it twice
    assert len(world.fcm.sent) == 2


def test_a_transient_fcm_failure_is_redelivered_to_that_device_only(
    world: World, job: PushJob
) -> None:
    tablet = world.devices.devices["alice"]["tablet-0001"]
    world.fcm.answers[tablet.token] = SendResult(SendStatus.RETRY, "UNAVAILABLE")
    assert deliver(world, job) == 500  # not acknowledged: Pub/Sub redelivers with backoff
    assert [token for _, token in world.fcm.sent] == [
        world.devices.devices["alice"]["phone-0001"].token
    ]
    del world.fcm.answers[tablet.token]
    assert deliver(world, job) == 200
    assert [token for _, token in world.fcm.sent][1:] == [tablet.token]


def test_a_dead_token_removes_its_device(world: World, job: PushJob) -> None:
    phone = world.devices.devices["alice"]["phone-0001"]
    world.fcm.answers[phone.token] = SendResult(SendStatus.TOKEN_DEAD, "UNREGISTERED")
    assert deliver(world, job) == 200
    assert [d.device_id for d in world.devices.of_user("alice")] == ["tablet-0001"]


def test_jobs_that_must_not_be_sent_are_acknowledged(world: World, job: PushJob) -> None:
    expired = job.model_copy(update={"created_at": datetime.now(UTC) - timedelta(days=2)})
    assert deliver(world, expired) == 200
    missing_item = job.model_copy(update={"item_id": "no-such-item"})
    assert deliver(world, missing_item) == 200
    no_devices = job.model_copy(update={"uid": "nobody"})
    assert deliver(world, no_devices) == 200
    world.preferences.stored["alice"] = Preferences(categories=Categories(mail=False))
    assert deliver(world, job) == 200
    assert world.fcm.sent == []


def test_a_relink_push_is_data_only(world: World) -> None:
    world.devices.upsert("alice", device("phone-0001"))
    made = job_for(world, kind=Kind.ACCOUNT_RELINK_REQUIRED)
    assert deliver(world, made) == 200
    ((message, _),) = world.fcm.sent
    assert message.data_only and message.data["kind"] == "account.relink_required"


def valid_job() -> dict[str, Any]:
    return {
        "job_id": "job-1",
        "uid": "alice",
        "item_id": "item-1",
        "kind": "mail.received",
        "created_at": datetime.now(UTC).isoformat(),
    }


MALFORMED: dict[str, Any] = {
    "not-base64": {"message": {"data": "@@@"}},
    "no-message": {"subscription": "s"},
    "not-json": pubsub_envelope(b"{job"),
    "json-array": pubsub_envelope(b"[]"),
    "missing-uid": pubsub_envelope(json.dumps({**valid_job(), "uid": None}).encode()),
    "unknown-kind": pubsub_envelope(json.dumps({**valid_job(), "kind": "fax.sent"}).encode()),
    "bad-time": pubsub_envelope(json.dumps({**valid_job(), "created_at": "noon"}).encode()),
    "extra-field": pubsub_envelope(json.dumps({**valid_job(), "title": "x"}).encode()),
    "slash-in-uid": pubsub_envelope(json.dumps({**valid_job(), "uid": "a/b"}).encode()),
    "reserved-uid": pubsub_envelope(json.dumps({**valid_job(), "uid": "__x__"}).encode()),
    "dot-dot-item": pubsub_envelope(json.dumps({**valid_job(), "item_id": ".."}).encode()),
    "slash-in-job": pubsub_envelope(json.dumps({**valid_job(), "job_id": "x/y"}).encode()),
    "long-item": pubsub_envelope(json.dumps({**valid_job(), "item_id": "i" * 65}).encode()),
    "empty-job-id": pubsub_envelope(json.dumps({**valid_job(), "job_id": ""}).encode()),
}


@pytest.mark.parametrize("envelope", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_jobs_are_acknowledged_and_do_nothing(
    world: World, job: PushJob, envelope: Any
) -> None:
    assert post_event(world.function("push_dispatch"), envelope).status_code == 200
    world.assert_untouched()
