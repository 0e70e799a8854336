"""Authentication of Calendar and Drive channel notifications.

A notification is accepted only when its channel is one we created and still hold, its
token hashes to the stored hash (compared in constant time, whatever the input), its
resource id matches, its source matches the receiver and it has not expired. The request
never says more than "rejected", and ``X-Goog-Resource-URI`` is never fetched.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime
from typing import Protocol

from werkzeug.datastructures import Headers

from shared.adapters.channel_store import Channel, secret_hash
from shared.errors import AppError, ErrorCode

_CHANNEL_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_MAX_HEADER = 512
_UNKNOWN = hashlib.sha256(b"unknown-channel").hexdigest()


class ChannelLookup(Protocol):
    """Port: finds a channel by id."""

    def get(self, channel_id: str) -> Channel | None: ...


def authenticate(
    headers: Headers, source: str, channels: ChannelLookup, now: datetime
) -> tuple[Channel, str]:
    """The channel and resource state of an authentic notification, else 401."""
    channel_id = headers.get("X-Goog-Channel-ID", "")
    token = headers.get("X-Goog-Channel-Token", "")
    resource_id = headers.get("X-Goog-Resource-ID", "")
    state = headers.get("X-Goog-Resource-State", "")
    well_formed = (
        bool(_CHANNEL_ID.match(channel_id))
        and 0 < len(token) <= 256
        and 0 < len(resource_id) <= _MAX_HEADER
        and 0 < len(state) <= 32
    )
    channel = channels.get(channel_id) if well_formed else None
    expected = channel.secret_hash if channel is not None else _UNKNOWN
    token_ok = hmac.compare_digest(secret_hash(token), expected)
    resource_ok = channel is not None and hmac.compare_digest(
        resource_id.encode(), channel.resource_id.encode()
    )
    if (
        channel is None
        or not token_ok
        or not resource_ok
        or channel.source != source
        or channel.expires_at <= now
    ):
        raise AppError(ErrorCode.UNAUTHENTICATED, "Notification rejected.")
    return channel, state
