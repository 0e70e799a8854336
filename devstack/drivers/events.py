"""Deliver a Pub/Sub message straight to an event function, as a push subscription does
(functions-framework turns the push envelope into the CloudEvent Eventarc would send)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import requests


def push(
    function_url: str,
    data: bytes,
    attributes: dict[str, str] | None = None,
    message_id: str = "1",
    publish_time: str | None = None,
) -> requests.Response:
    """POST one message; a 2xx answer acknowledges it, anything else makes Pub/Sub retry."""
    envelope = {
        "subscription": "projects/demo-uplus-test/subscriptions/direct",
        "message": {
            "data": base64.b64encode(data).decode(),
            "attributes": attributes or {},
            "messageId": message_id,
            "publishTime": publish_time or datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        },
    }
    return requests.post(function_url, json=envelope, timeout=30)
