"""Outbound notifications of the fake: web_hook channel POSTs and Pub/Sub emulator publishes.

API modules decide to notify while holding the state lock; the functions here do network I/O,
so they must run after the lock is released: through `ApiRequest.defer` in API handlers, or
`in_background` in control routes (which have no `defer`). They never raise: a receiver that
is down or slow is what Google would see too, so failures are logged and reported as None.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import requests

logger = logging.getLogger(__name__)

# Google gives webhooks a few seconds; a hanging receiver must not pile up threads here.
CHANNEL_TIMEOUT_SECONDS = 5.0
PUBLISH_TIMEOUT_SECONDS = 5.0
# The User-Agent Google's push notifications carry.
GOOGLE_PUSH_USER_AGENT = "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)"


def rfc1123(epoch_ms: int) -> str:
    """An epoch-milliseconds instant as `X-Goog-Channel-Expiration` shows it (RFC 1123, GMT)."""
    return formatdate(epoch_ms / 1000, usegmt=True)


@dataclass(frozen=True)
class ChannelNotification:
    """One notification message for a `web_hook` channel (Calendar, Drive)."""

    address: str
    channel_id: str
    token: str | None
    resource_id: str
    resource_uri: str
    # "sync" first; then "exists"/"not_exists" (Calendar) or "change" (Drive changes).
    resource_state: str
    message_number: int
    expiration_ms: int | None
    # e.g. `X-Goog-Changed` for Drive `files.watch`.
    extra_headers: dict[str, str] = field(default_factory=dict)

    def headers(self) -> dict[str, str]:
        """The request headers Google sends; the body is empty."""
        headers = {
            "Content-Type": "application/json; utf-8",
            "User-Agent": GOOGLE_PUSH_USER_AGENT,
            "X-Goog-Channel-ID": self.channel_id,
            "X-Goog-Message-Number": str(self.message_number),
            "X-Goog-Resource-ID": self.resource_id,
            "X-Goog-Resource-State": self.resource_state,
            "X-Goog-Resource-URI": self.resource_uri,
        }
        if self.token is not None:
            headers["X-Goog-Channel-Token"] = self.token
        if self.expiration_ms is not None:
            headers["X-Goog-Channel-Expiration"] = rfc1123(self.expiration_ms)
        headers.update(self.extra_headers)
        return headers


def send_channel_notification(notification: ChannelNotification) -> int | None:
    """POST the notification to the channel address; its HTTP status, or None when unreachable."""
    try:
        response = requests.post(
            notification.address,
            data=b"",
            headers=notification.headers(),
            timeout=CHANNEL_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.RequestException as error:
        # The address and token stay out of the log; the channel id is enough to find it.
        logger.warning(
            "channel %s notification %s failed: %s",
            notification.channel_id,
            notification.message_number,
            type(error).__name__,
        )
        return None
    if response.status_code >= 300:
        logger.info(
            "channel %s notification %s answered %s",
            notification.channel_id,
            notification.message_number,
            response.status_code,
        )
    return response.status_code


def pubsub_emulator_host() -> str | None:
    """The Pub/Sub emulator `host:port`, read at call time so tests can point it elsewhere."""
    return os.environ.get("PUBSUB_EMULATOR_HOST") or None


def publish_to_pubsub(
    topic: str, data: dict[str, Any], attributes: dict[str, str] | None = None
) -> int | None:
    """Publish one JSON message to `projects/P/topics/T` on the emulator; its HTTP status or None.

    The emulator's REST surface is Pub/Sub's own: `POST /v1/{topic}:publish` with base64 data.
    """
    host = pubsub_emulator_host()
    if host is None:
        logger.warning("PUBSUB_EMULATOR_HOST is not set: nothing published to %s", topic)
        return None
    message: dict[str, Any] = {
        "data": base64.b64encode(json.dumps(data).encode()).decode("ascii"),
    }
    if attributes:
        message["attributes"] = attributes
    try:
        response = requests.post(
            f"http://{host}/v1/{topic}:publish",
            json={"messages": [message]},
            timeout=PUBLISH_TIMEOUT_SECONDS,
        )
    except requests.RequestException as error:
        logger.warning("publish to %s failed: %s", topic, type(error).__name__)
        return None
    if response.status_code >= 300:
        logger.warning("publish to %s answered %s", topic, response.status_code)
    return response.status_code


def in_background(action: Callable[[], None], delay_seconds: float = 0.0) -> None:
    """Run `action` on a daemon thread, after `delay_seconds`; exceptions are logged."""

    def run() -> None:
        if delay_seconds > 0:
            time.sleep(delay_seconds)
        try:
            action()
        except Exception:
            logger.exception("background notification failed")

    threading.Thread(target=run, name="fake-google-push", daemon=True).start()
