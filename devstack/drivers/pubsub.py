"""Pub/Sub emulator helpers: publish like Google or Cloud Scheduler, and observe a topic."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests

T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float = 20.0, interval: float = 0.2) -> T:
    """Poll ``check`` until it returns a truthy value (returned) or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")
        time.sleep(interval)


class PubSub:
    """The emulator's REST API for one project."""

    def __init__(self, host: str, project_id: str) -> None:
        self.base = f"http://{host}/v1/projects/{project_id}"
        self.project_id = project_id

    def publish(self, topic: str, data: bytes, **attributes: str) -> None:
        """Publish one message."""
        message: dict[str, Any] = {"data": base64.b64encode(data).decode()}
        if attributes:
            message["attributes"] = attributes
        response = requests.post(
            f"{self.base}/topics/{topic}:publish", json={"messages": [message]}, timeout=10
        )
        response.raise_for_status()

    def publish_json(self, topic: str, body: dict[str, Any]) -> None:
        """Publish a JSON body."""
        self.publish(topic, json.dumps(body).encode())

    def observe(self, topic: str, name: str) -> Observer:
        """A pull subscription that sees every message published to ``topic`` from now on."""
        requests.put(
            f"{self.base}/subscriptions/{name}",
            json={"topic": f"projects/{self.project_id}/topics/{topic}", "ackDeadlineSeconds": 60},
            timeout=10,
        )
        return Observer(f"{self.base}/subscriptions/{name}")


class Observer:
    """Pulls and acknowledges what a topic received."""

    def __init__(self, subscription_url: str) -> None:
        self.url = subscription_url

    def drain(self) -> list[dict[str, Any]]:
        """Every message waiting now, decoded as JSON, acknowledged."""
        messages: list[dict[str, Any]] = []
        while True:
            response = requests.post(
                f"{self.url}:pull",
                json={"maxMessages": 1000, "returnImmediately": True},
                timeout=10,
            )
            response.raise_for_status()
            received = response.json().get("receivedMessages", [])
            if not received:
                return messages
            requests.post(
                f"{self.url}:acknowledge",
                json={"ackIds": [item["ackId"] for item in received]},
                timeout=10,
            ).raise_for_status()
            for item in received:
                raw = base64.b64decode(item["message"].get("data", ""))
                try:
                    messages.append(json.loads(raw))
                except ValueError:
                    messages.append({"raw": raw.decode(errors="replace")})


def wait_len(fetch: Callable[[], list[T]], count: int, timeout: float = 30.0) -> list[T]:
    """Poll ``fetch`` until it returns exactly ``count`` elements; returns them."""
    latest: list[list[T]] = [[]]

    def check() -> bool:
        latest[0] = fetch()
        return len(latest[0]) == count

    eventually(check, timeout)
    return latest[0]


def collect(
    observer: Observer, expected: int, timeout: float = 30.0, settle: float = 1.5
) -> list[dict[str, Any]]:
    """Messages until at least ``expected`` arrived, plus any that follow within ``settle``
    seconds (so a duplicate would be seen)."""
    messages: list[dict[str, Any]] = []

    def check() -> bool:
        messages.extend(observer.drain())
        return len(messages) >= expected

    eventually(check, timeout)
    time.sleep(settle)
    messages.extend(observer.drain())
    return messages
