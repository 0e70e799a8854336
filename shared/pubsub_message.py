"""The payload of a Pub/Sub message delivered as a CloudEvent (Eventarc, or
functions-framework's conversion of a raw push locally)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any


def payload(data: Any) -> bytes | None:
    """The message's decoded bytes, or None when the envelope is malformed."""
    try:
        return base64.b64decode(data["message"]["data"], validate=True)
    except (KeyError, TypeError, ValueError, binascii.Error):
        return None


def json_payload(data: Any) -> Any:
    """The message's JSON body, or None when absent or not JSON."""
    raw = payload(data)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None
