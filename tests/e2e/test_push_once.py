"""Once on the phone: no send that FCM may have accepted is sent again by us.

FCM's send has no idempotency key, so the dispatch is at most once per device and job: a
send whose answer never came (client timeout) and a send in flight when push_dispatch died
are never repeated, neither by the HTTP transport nor by a redelivery of the job.
"""

from __future__ import annotations

import time

from devstack.drivers.clients import AuthUser
from devstack.drivers.pubsub import eventually
from devstack.drivers.push import (
    FakeFcm,
    claims,
    device_body,
    handled,
    job_for,
    new_token,
    publish_job,
    put_device,
    write_item,
)
from devstack.processes import wait_all_ready
from tests.e2e.conftest import RunningStack

FCM_TIMEOUT_SECONDS = 6  # FCM_TIMEOUT_SECONDS of the local stack (devstack/stack.py)


def _device(stack: RunningStack, user: AuthUser) -> str:
    token = new_token(stack.seen)
    response = put_device(stack.function_url("account_api"), user, "phone-0001", device_body(token))
    assert response.status_code == 201
    return token


def test_fcm_answering_after_the_client_timeout_records_one_send(stack: RunningStack) -> None:
    user = stack.auth.create_user()
    token = _device(stack, user)
    fcm = FakeFcm(stack.urls.fake_google)
    fcm.slow(token, delay_seconds=FCM_TIMEOUT_SECONDS + 3)
    job = job_for(user.uid, write_item(stack.db, user.uid))

    publish_job(stack.urls.pubsub, stack.urls.project_id, job)

    runs = eventually(lambda: handled(stack.workdir, job.job_id), timeout=60)
    assert (runs[0]["sent"], runs[0]["unknown"], runs[0]["released"]) == (0, 1, 0)
    assert claims(stack.db, job.job_id) == {"phone-0001": "unknown"}
    # A redelivery of the job finds the claim settled and sends nothing.
    publish_job(stack.urls.pubsub, stack.urls.project_id, job)
    eventually(lambda: len(handled(stack.workdir, job.job_id)) >= 2, timeout=60)
    time.sleep(FCM_TIMEOUT_SECONDS)  # a resend would have reached the fake by now
    assert len(fcm.messages(token)) == 1


def test_push_dispatch_killed_mid_send_and_restarted_records_one_send(
    stack: RunningStack,
) -> None:
    user = stack.auth.create_user()
    token = _device(stack, user)
    fcm = FakeFcm(stack.urls.fake_google)
    # FCM accepts at once and answers a minute later: the send is in flight when we kill.
    fcm.slow(token, delay_seconds=60)
    job = job_for(user.uid, write_item(stack.db, user.uid))
    dispatch = stack.local.component("push_dispatch")

    publish_job(stack.urls.pubsub, stack.urls.project_id, job)
    eventually(lambda: fcm.messages(token), timeout=60)
    dispatch.kill()
    dispatch.start()
    wait_all_ready([dispatch], 120)

    # Pub/Sub redelivers the unacknowledged job to the new process, which finds the send
    # recorded before the request left and does not send again (nor ask for another
    # redelivery).
    runs = eventually(lambda: handled(stack.workdir, job.job_id), timeout=120)
    assert (runs[0]["sent"], runs[0]["skipped"]) == (0, 1)
    assert claims(stack.db, job.job_id) == {"phone-0001": "sent"}
    time.sleep(3)
    assert len(fcm.messages(token)) == 1
    assert len(handled(stack.workdir, job.job_id)) == 1
