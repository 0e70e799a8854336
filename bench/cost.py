"""Cost per notification: the receiver and push dispatch code run in this process (the
functions' own modules, through functions-framework's app) against the stack's emulators
and fake Google, with counting wrappers around our Firestore client and job publisher.

The stack's own push_dispatch subscription is paused meanwhile, so each push job is
dispatched once, here, and counted.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections import Counter
from collections.abc import Callable
from typing import Any

import requests

from bench.counting import CountingPublisher, count_firestore
from bench.stats import median
from bench.world import BenchUser, World, wait_until
from devstack.drivers.pubsub import Observer, PubSub
from devstack.drivers.watch import calendar_change, deliver_mail, drive_file, live_channel

FCM_SEND = "fcm.projects.messages.send"
COUNTED = ("reads", "writes", "deletes", "google_calls", "publishes", "fcm_calls")

# The least each flow needs for one new item and one phone (reasoned in docs/benchmarks.md).
MINIMUM: dict[str, dict[str, int]] = {
    "gmail": {
        "reads": 5,
        "writes": 3,
        "deletes": 0,
        "google_calls": 2,
        "publishes": 1,
        "fcm_calls": 1,
    },
    "drive": {
        "reads": 5,
        "writes": 3,
        "deletes": 0,
        "google_calls": 1,
        "publishes": 1,
        "fcm_calls": 1,
    },
    "calendar": {
        "reads": 6,
        "writes": 4,
        "deletes": 0,
        "google_calls": 1,
        "publishes": 1,
        "fcm_calls": 1,
    },
}


class InProcess:
    """The receivers and push dispatch as functions-framework apps in this process."""

    def __init__(self, world: World) -> None:
        os.environ.update(world.urls.function_env())
        os.environ["LOG_LEVEL"] = "WARNING"  # the functions' own logs would flood the terminal
        from functions_framework import create_app

        from shared.bootstrap import container

        self.counts: Counter[str] = Counter()
        app = container("event")  # the container the receivers and dispatch use
        count_firestore(app.firestore, self.counts)
        app.__dict__["job_publisher"] = CountingPublisher(app.job_publisher, self.counts)
        source = "main.py"
        self.gmail = create_app("gmail_receiver", source, "cloudevent").test_client()
        self.drive = create_app("drive_webhook", source, "http").test_client()
        self.calendar = create_app("calendar_webhook", source, "http").test_client()
        self.dispatch = create_app("push_dispatch", source, "cloudevent").test_client()

    @staticmethod
    def cloud_event(client: Any, topic: str, data: bytes) -> int:
        """Deliver one Pub/Sub message as Eventarc would; the HTTP status."""
        headers = {
            "ce-specversion": "1.0",
            "ce-id": secrets.token_hex(8),
            "ce-source": f"//pubsub.googleapis.com/projects/bench/topics/{topic}",
            "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
        }
        envelope = {"message": {"data": base64.b64encode(data).decode(), "messageId": "1"}}
        return int(client.post("/", json=envelope, headers=headers).status_code)


def _channel_headers(channel: dict[str, Any]) -> dict[str, str]:
    return {
        "X-Goog-Channel-ID": channel["id"],
        "X-Goog-Channel-Token": channel["token"],
        "X-Goog-Resource-ID": channel["resourceId"],
        "X-Goog-Resource-State": "exists",
        "X-Goog-Message-Number": "99",
    }


def _pause_push_dispatch(world: World) -> Callable[[], None]:
    """Detach the stack's push_dispatch from push-jobs; returns how to re-attach it."""
    urls = world.urls
    api = f"http://{urls.pubsub}/v1/projects/{urls.project_id}/subscriptions"
    name = "push_dispatch-push"
    endpoint = f"{urls.functions['push_dispatch']}/projects/{urls.project_id}/topics/push-jobs"
    requests.post(f"{api}/{name}:modifyPushConfig", json={"pushConfig": {}}, timeout=10)

    def resume() -> None:
        requests.post(
            f"{api}/{name}:modifyPushConfig",
            json={"pushConfig": {"pushEndpoint": endpoint}},
            timeout=10,
        ).raise_for_status()

    return resume


def measure(world: World, runs: int) -> dict[str, Any]:
    """Median counts per notification of each flow, next to the minimum."""
    user = world.linked_user()
    world.settle()
    resume = _pause_push_dispatch(world)
    try:
        here = InProcess(world)
        jobs = PubSub(world.urls.pubsub, world.urls.project_id).observe("push-jobs", "bench-cost")
        jobs.drain()
        results: dict[str, Any] = {}
        for flow, trigger in _flows(world, user, here).items():
            samples: list[dict[str, int]] = []
            for index in range(runs):
                world.google.reset_calls()
                here.counts.clear()
                trigger(index)
                pending = _published(jobs)
                for job in pending:
                    here.cloud_event(here.dispatch, "push-jobs", json.dumps(job).encode())
                calls = world.google.calls()
                sample = {
                    key: here.counts[key] for key in ("reads", "writes", "deletes", "publishes")
                }
                sample["google_calls"] = sum(
                    1
                    for c in calls
                    if c["method"] != FCM_SEND and not c["method"].startswith("oauth.")
                )
                sample["fcm_calls"] = sum(1 for c in calls if c["method"] == FCM_SEND)
                sample["transactions"] = here.counts["transactions"]
                sample["rpcs"] = here.counts["rpcs"]
                sample["items"] = len(pending)
                samples.append(sample)
                operations = {key: n for key, n in sorted(here.counts.items()) if " " in key}
            measured = {key: median([s[key] for s in samples]) for key in samples[0]}
            methods = Counter(c["method"] for c in world.google.calls())
            results[flow] = {
                "measured": measured,
                "minimum": MINIMUM[flow],
                "ratio": {
                    key: (measured[key] / MINIMUM[flow][key]) if MINIMUM[flow][key] else None
                    for key in COUNTED
                },
                "samples": samples,
                "last_google_methods": dict(methods),
                "last_operations": operations,
            }
        return results
    finally:
        resume()


def _published(jobs: Observer) -> list[dict[str, Any]]:
    """The push jobs the notification published (they reach the emulator at once)."""
    found: list[dict[str, Any]] = []

    def check() -> bool:
        found.extend(jobs.drain())
        return bool(found)

    wait_until(check, timeout=5)
    return found


def _flows(world: World, user: BenchUser, here: InProcess) -> dict[str, Callable[[int], None]]:
    fake = world.urls.fake_google

    def gmail(index: int) -> None:
        mail = deliver_mail(fake, user.sub, f"cost {index}", notify="drop")
        address = str(user.google["email"])
        body = json.dumps({"emailAddress": address, "historyId": mail["history_id"]}).encode()
        status = here.cloud_event(here.gmail, "gmail-notifications", body)
        assert status < 300, status

    def drive(index: int) -> None:
        drive_file(fake, sub=user.sub, name=f"cost {index}.txt", notify="drop")
        response = here.drive.post(
            "/", headers=_channel_headers(live_channel(fake, "drive", user.sub))
        )
        assert response.status_code == 200, response.status_code

    def calendar(index: int) -> None:
        channel = live_channel(fake, "calendar", user.sub)
        requests.post(
            f"{fake}/_control/calendar/channels/{channel['id']}/drop_next",
            json={"count": 1},
            timeout=10,
        ).raise_for_status()
        calendar_change(
            fake,
            user.sub,
            "insert",
            event={
                "summary": f"cost {index}",
                "start": {"dateTime": "2026-12-01T10:00:00+09:00"},
                "end": {"dateTime": "2026-12-01T11:00:00+09:00"},
            },
        )
        response = here.calendar.post("/", headers=_channel_headers(channel))
        assert response.status_code == 200, response.status_code

    return {"gmail": gmail, "drive": drive, "calendar": calendar}
