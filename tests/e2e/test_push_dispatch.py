"""Push dispatch end to end: a job on the Pub/Sub emulator → push_dispatch → the fake FCM."""

from __future__ import annotations

import time

import requests

from devstack.drivers.pubsub import eventually
from devstack.drivers.push import (
    FakeFcm,
    claims,
    device_body,
    dispatch_log,
    handled,
    job_for,
    new_token,
    publish,
    publish_job,
    put_device,
    write_item,
)
from shared.activity import Kind
from tests.e2e.conftest import RunningStack


def _fcm(stack: RunningStack) -> FakeFcm:
    return FakeFcm(stack.urls.fake_google)


def test_one_job_reaches_each_live_device_in_its_language(stack: RunningStack) -> None:
    account_api = stack.function_url("account_api")
    user = stack.auth.create_user()
    ko, en, dead = (new_token(stack.seen) for _ in range(3))
    for device_id, token, locale in (
        ("device-ko-1", ko, "ko-KR"),
        ("device-en-1", en, "en-US"),
        ("device-dead", dead, "ko-KR"),
    ):
        response = put_device(account_api, user, device_id, device_body(token, locale))
        assert response.status_code == 201, response.text
    _fcm(stack).unregister(dead)
    item = write_item(stack.db, user.uid)
    job = job_for(user.uid, item)

    publish_job(stack.urls.pubsub, stack.urls.project_id, job)

    done = eventually(lambda: handled(stack.workdir, job.job_id), timeout=30)
    assert done[-1]["sent"] == 2 and done[-1]["dropped"] == 1
    sent = {m["token"]: m["message"] for m in _fcm(stack).messages()}
    assert set(sent) == {ko, en}
    assert sent[ko]["notification"] == {"title": "Kim Minji", "body": "Quarterly numbers"}
    assert sent[en]["notification"] == {"title": "Kim Minji", "body": "Quarterly numbers"}
    for message in sent.values():
        assert message["data"] == {
            "kind": "mail.received",
            "category": "mail",
            "item_id": item.id,
            "resource_id": item.resource_id,
        }
        assert message["android"]["priority"] == "high"
        assert message["apns"]["headers"]["apns-push-type"] == "alert"
        assert message["apns"]["headers"]["apns-priority"] == "10"
        assert message["android"]["collapse_key"] == message["apns"]["headers"]["apns-collapse-id"]
    # The dead token's device is gone, with its token index entry; the others stay.
    devices = stack.db.collection("users").document(user.uid).collection("devices")
    assert sorted(doc.id for doc in devices.stream()) == ["device-en-1", "device-ko-1"]
    assert claims(stack.db, job.job_id) == {
        "device-ko-1": "sent",
        "device-en-1": "sent",
        "device-dead": "dropped",
    }
    # Acknowledged: handled once, never redelivered.
    time.sleep(3)
    assert len(handled(stack.workdir, job.job_id)) == 1
    assert not [e for e in dispatch_log(stack.workdir, job.job_id) if "redelivered" in e["message"]]


def test_language_follows_the_device_locale_when_previews_are_off(stack: RunningStack) -> None:
    account_api = stack.function_url("account_api")
    user = stack.auth.create_user()
    ko, en = new_token(stack.seen), new_token(stack.seen)
    put_device(account_api, user, "device-ko-2", device_body(ko, "ko"))
    put_device(account_api, user, "device-en-2", device_body(en, "en-GB", platform="ios"))
    item = write_item(stack.db, user.uid, Kind.DRIVE_CREATED, title="Budget.xlsx", actor=None)
    stack.db.collection("users").document(user.uid).set(
        {
            "preferences": {
                "categories": {"mail": True, "drive": True, "calendar": True},
                "preview": False,
                "quiet_hours": None,
            }
        },
        merge=True,
    )
    job = job_for(user.uid, item)
    publish_job(stack.urls.pubsub, stack.urls.project_id, job)

    eventually(lambda: len(_fcm(stack).messages()) == 2, timeout=30)
    sent = {m["token"]: m["message"] for m in _fcm(stack).messages()}
    assert sent[ko]["notification"] == {
        "title": "새 파일",
        "body": "드라이브에 새 파일이 추가되었습니다.",
    }
    assert sent[en]["notification"] == {
        "title": "New file",
        "body": "A new file was added to your Drive.",
    }
    assert "Budget" not in str(sent)
    assert sent[en]["apns"]["headers"]["apns-priority"] == "5"


def test_malformed_jobs_are_acknowledged(stack: RunningStack) -> None:
    before = (stack.workdir / "logs" / "push_dispatch.log").read_text().count("malformed")
    for data in (
        b"not json",
        b'{"job_id": "x"}',
        b'{"job_id": "a/b", "uid": "u", '
        b'"item_id": "i", "kind": "mail.received", "created_at": "2024-01-01T00:00:00Z"}',
    ):
        publish(stack.urls.pubsub, stack.urls.project_id, data)
    eventually(
        lambda: (
            (stack.workdir / "logs" / "push_dispatch.log").read_text().count("malformed")
            >= before + 3
        ),
        timeout=20,
    )
    time.sleep(2)
    # Never redelivered: exactly one log line each.
    count = (stack.workdir / "logs" / "push_dispatch.log").read_text().count("malformed")
    assert count == before + 3
    _discard_observed(stack)


def _discard_observed(stack: RunningStack) -> None:
    """Acknowledge what the suite's push-jobs observer holds without decoding it: these
    messages are not JSON on purpose."""
    response = requests.post(
        f"{stack.push_jobs.url}:pull",
        json={"maxMessages": 1000, "returnImmediately": True},
        timeout=10,
    )
    received = response.json().get("receivedMessages", [])
    if received:
        requests.post(
            f"{stack.push_jobs.url}:acknowledge",
            json={"ackIds": [item["ackId"] for item in received]},
            timeout=10,
        ).raise_for_status()
