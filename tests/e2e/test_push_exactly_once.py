"""Exactly once per device: duplicate and concurrent deliveries, transient and fatal failures."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from devstack.drivers.clients import AuthUser
from devstack.drivers.pubsub import eventually
from devstack.drivers.push import (
    FakeFcm,
    claims,
    device_body,
    dispatch_log,
    handled,
    job_for,
    new_token,
    publish_job,
    put_device,
    write_item,
)
from tests.e2e.conftest import RunningStack


def _devices(stack: RunningStack, user: AuthUser, count: int) -> dict[str, str]:
    tokens = {}
    for index in range(count):
        token = new_token(stack.seen)
        device_id = f"install-{index:04d}"
        response = put_device(
            stack.function_url("account_api"), user, device_id, device_body(token)
        )
        assert response.status_code == 201
        tokens[device_id] = token
    return tokens


def _per_token(fcm: FakeFcm) -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in fcm.messages():
        counts[message["token"]] = counts.get(message["token"], 0) + 1
    return counts


def test_duplicate_and_concurrent_deliveries_send_once(stack: RunningStack) -> None:
    user = stack.auth.create_user()
    tokens = _devices(stack, user, 3)
    job = job_for(user.uid, write_item(stack.db, user.uid))
    fcm = FakeFcm(stack.urls.fake_google)

    publishers = [
        threading.Thread(target=publish_job, args=(stack.urls.pubsub, stack.urls.project_id, job))
        for _ in range(2)
    ]
    for thread in publishers:
        thread.start()
    for thread in publishers:
        thread.join()
    eventually(lambda: set(claims(stack.db, job.job_id).values()) == {"sent"}, timeout=30)
    eventually(lambda: len(handled(stack.workdir, job.job_id)) >= 2, timeout=30)
    # Once more, later: a redelivery after success.
    publish_job(stack.urls.pubsub, stack.urls.project_id, job)
    eventually(lambda: len(handled(stack.workdir, job.job_id)) >= 3, timeout=30)
    time.sleep(2)

    assert _per_token(fcm) == {token: 1 for token in tokens.values()}
    assert sum(entry["sent"] for entry in handled(stack.workdir, job.job_id)) == 3


def test_a_transient_failure_retries_only_that_device(stack: RunningStack) -> None:
    user = stack.auth.create_user()
    tokens = _devices(stack, user, 2)
    flaky = tokens["install-0000"]
    fcm = FakeFcm(stack.urls.fake_google)
    fcm.fail(flaky, "QUOTA_EXCEEDED", times=2)
    job = job_for(user.uid, write_item(stack.db, user.uid))

    publish_job(stack.urls.pubsub, stack.urls.project_id, job)

    eventually(
        lambda: claims(stack.db, job.job_id) == {"install-0000": "sent", "install-0001": "sent"},
        timeout=40,
    )
    time.sleep(2)
    assert _per_token(fcm) == {token: 1 for token in tokens.values()}
    runs = handled(stack.workdir, job.job_id)
    assert [(run["sent"], run["released"]) for run in runs] == [(1, 1), (0, 1), (1, 0)]
    assert any("redelivered" in e["message"] for e in dispatch_log(stack.workdir, job.job_id))


def test_unavailable_is_retried_by_redelivery_not_by_the_transport(stack: RunningStack) -> None:
    # FCM answered 503: it did not accept the message, so a retry cannot double it. The
    # transport never resends a send POST; the released claim is sent on redelivery.
    user = stack.auth.create_user()
    tokens = _devices(stack, user, 1)
    fcm = FakeFcm(stack.urls.fake_google)
    fcm.fail(tokens["install-0000"], "UNAVAILABLE", times=1)
    job = job_for(user.uid, write_item(stack.db, user.uid))
    publish_job(stack.urls.pubsub, stack.urls.project_id, job)
    eventually(lambda: claims(stack.db, job.job_id) == {"install-0000": "sent"}, timeout=60)
    assert _per_token(fcm) == {tokens["install-0000"]: 1}
    runs = handled(stack.workdir, job.job_id)
    assert [(run["sent"], run["released"]) for run in runs] == [(0, 1), (1, 0)]


def test_dead_tokens_are_removed_and_the_rest_still_get_the_push(stack: RunningStack) -> None:
    user = stack.auth.create_user()
    tokens = _devices(stack, user, 3)
    fcm = FakeFcm(stack.urls.fake_google)
    fcm.fail(tokens["install-0000"], "SENDER_ID_MISMATCH", times=0)
    fcm.fail(tokens["install-0001"], "INVALID_ARGUMENT", times=0)
    job = job_for(user.uid, write_item(stack.db, user.uid))
    publish_job(stack.urls.pubsub, stack.urls.project_id, job)
    eventually(lambda: handled(stack.workdir, job.job_id), timeout=30)
    assert _per_token(fcm) == {tokens["install-0002"]: 1}
    devices = stack.db.collection("users").document(user.uid).collection("devices")
    assert [doc.id for doc in devices.stream()] == ["install-0002"]


def test_third_party_auth_error_is_an_alarm_and_keeps_the_token(stack: RunningStack) -> None:
    user = stack.auth.create_user()
    tokens = _devices(stack, user, 2)
    fcm = FakeFcm(stack.urls.fake_google)
    fcm.fail(tokens["install-0000"], "THIRD_PARTY_AUTH_ERROR", times=0)
    job = job_for(user.uid, write_item(stack.db, user.uid))
    publish_job(stack.urls.pubsub, stack.urls.project_id, job)
    done = eventually(lambda: handled(stack.workdir, job.job_id), timeout=30)
    assert (done[0]["sent"], done[0]["failed"]) == (1, 1)
    assert _per_token(fcm) == {tokens["install-0001"]: 1}
    devices = stack.db.collection("users").document(user.uid).collection("devices")
    assert sorted(doc.id for doc in devices.stream()) == ["install-0000", "install-0001"]
    log = (stack.workdir / "logs" / "push_dispatch.log").read_text()
    assert '"alert": "fcm_third_party_auth"' in log and '"severity": "ERROR"' in log


def test_stale_devices_are_pruned_at_send_time(stack: RunningStack) -> None:
    user = stack.auth.create_user()
    tokens = _devices(stack, user, 2)
    stale = (
        stack.db.collection("users")
        .document(user.uid)
        .collection("devices")
        .document("install-0000")
    )
    stale.update({"last_seen_at": datetime.now(UTC) - timedelta(days=61)})
    job = job_for(user.uid, write_item(stack.db, user.uid))
    publish_job(stack.urls.pubsub, stack.urls.project_id, job)
    eventually(lambda: handled(stack.workdir, job.job_id), timeout=30)
    assert _per_token(FakeFcm(stack.urls.fake_google)) == {tokens["install-0001"]: 1}
    assert not stale.get().exists


def test_jobs_for_missing_items_or_past_their_ttl_are_acknowledged(stack: RunningStack) -> None:
    user = stack.auth.create_user()
    _devices(stack, user, 1)
    item = write_item(stack.db, user.uid)
    missing = job_for(user.uid, item).model_copy(update={"item_id": "gone", "job_id": "job-gone"})
    late = job_for(user.uid, item, created_at=datetime.now(UTC) - timedelta(days=2))
    publish_job(stack.urls.pubsub, stack.urls.project_id, missing)
    publish_job(stack.urls.pubsub, stack.urls.project_id, late)
    assert eventually(lambda: handled(stack.workdir, "job-gone"))[0]["outcome"] == "item_gone"
    assert eventually(lambda: handled(stack.workdir, late.job_id))[0]["outcome"] == "job_expired"
    assert FakeFcm(stack.urls.fake_google).messages() == []
