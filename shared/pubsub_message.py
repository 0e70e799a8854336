"""The payload of a Pub/Sub message delivered as a CloudEvent (Eventarc, or
functions-framework's conversion of a raw push locally).

Any exception escaping a CloudEvent function makes Pub/Sub redeliver the message until
its dead letter, so a payload that cannot be decoded, parsed or typed must come out of
here as ``None`` (the function acknowledges it with a log line), whatever it does to the
parser: bad base64, bad JSON, 5,000 nested arrays (``RecursionError``), lone surrogates
that cannot be re-encoded, numbers out of range.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any, TypeVar

from shared.logs import get_logger

log = get_logger(__name__)

T = TypeVar("T")


def payload(data: Any) -> bytes | None:
    """The message's decoded bytes, or None when the envelope is malformed."""
    try:
        return base64.b64decode(data["message"]["data"], validate=True)
    except (KeyError, TypeError, ValueError, binascii.Error):
        return None


def json_payload(data: Any) -> Any:
    """The message's JSON body, or None when absent, not JSON, too deep or not UTF-8."""
    raw = payload(data)
    if raw is None:
        return None
    try:
        body = json.loads(raw)
        # A lone surrogate (valid JSON "\\ud800") cannot be hashed, logged or stored.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError):  # UnicodeError is a ValueError
        return None
    return body


def typed(data: Any, parse: Callable[[Any], T | None]) -> T | None:
    """``parse(data)``, or None (logged) when the parser fails with any exception."""
    try:
        return parse(data)
    except Exception as exc:
        log.warning("undecodable pubsub payload", extra={"error": type(exc).__name__})
        return None
