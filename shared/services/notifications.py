"""Receiving a Google notification: one use case for the Gmail receiver and both channel
webhooks. Find whose source it is, authenticate it, apply the "account cannot sync" rule,
then sync.

Channel notifications (Calendar, Drive) are accepted only when their channel is one we
created and still hold, its token hashes to the stored hash (compared in constant time,
whatever the input), its resource id matches, its source matches the receiver and it has
not expired. The sender never learns more than "rejected", and ``X-Goog-Resource-URI`` is
never fetched. Headers: https://developers.google.com/workspace/drive/api/guides/push#understand-notification-message-format.

Gmail notifications carry only the address and a historyId
(https://developers.google.com/workspace/gmail/api/guides/push#receiving_notifications);
the Pub/Sub push is authenticated by the platform (private function, Eventarc).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from shared.errors import ACCOUNT_NEEDS_USER, AppError, ErrorCode
from shared.logs import get_logger
from shared.ports.sync import RequestResult, SourceKind, SyncKey
from shared.ports.watches import Channel, ChannelStore, secret_hash

log = get_logger(__name__)

_CHANNEL_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_MAX_HEADER = 512
_UNKNOWN = hashlib.sha256(b"unknown-channel").hexdigest()


@dataclass(frozen=True)
class ChannelNotice:
    """The ``X-Goog-Channel-ID``, ``-Token``, ``X-Goog-Resource-ID`` and ``-State`` headers
    of a channel notification, as sent (empty when absent)."""

    channel_id: str
    token: str
    resource_id: str
    state: str


class Runner(Protocol):
    """Port: the coalescing sync runner of one kind of source."""

    def notify(
        self, key: SyncKey, pushed: int | None = None, delivery: str | None = None
    ) -> RequestResult: ...


class Outcome(StrEnum):
    """What became of a notification that was accepted (rejections raise 401)."""

    HANDSHAKE = "handshake"  # the ``sync`` message after a watch starts: nothing changed
    UNKNOWN_ADDRESS = "unknown_address"
    NEEDS_USER = "needs_user"  # not linked, scope missing or re-link: acknowledged
    RUN = "run"
    QUEUED = "queued"
    STALE = "stale"
    UNKNOWN = "unknown"


def authenticate(
    notice: ChannelNotice, source: SourceKind, channels: ChannelStore, now: datetime
) -> Channel:
    """The channel of an authentic notification, else 401."""
    channel_id, token = notice.channel_id, notice.token
    resource_id, state = notice.resource_id, notice.state
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
        or channel.source != source.value
        or channel.expires_at <= now
    ):
        raise AppError(ErrorCode.UNAUTHENTICATED, "Notification rejected.")
    return channel


class NotificationService:
    """Turns authentic notifications into sync runs."""

    def __init__(self, channels: ChannelStore, runner: Callable[[SourceKind], Runner]) -> None:
        self._channels = channels
        self._runner = runner

    def channel_notification(
        self, kind: SourceKind, notice: ChannelNotice, now: datetime
    ) -> Outcome:
        """A Calendar or Drive channel notification; 401 ``AppError`` when not authentic."""
        channel = authenticate(notice, kind, self._channels, now)
        if notice.state == "sync":
            return Outcome.HANDSHAKE
        return self._sync(SyncKey(channel.uid, kind, channel.calendar_id), None)

    def gmail_notification(
        self, address: str, history_id: int, delivery: str | None = None
    ) -> Outcome:
        """A Gmail ``users.watch`` notification for ``address`` up to ``history_id``;
        ``delivery``: its Pub/Sub message id (stable across redeliveries)."""
        uid = self._channels.gmail_owner(address)
        if uid is None:
            return Outcome.UNKNOWN_ADDRESS
        return self._sync(SyncKey(uid, SourceKind.GMAIL), history_id, delivery)

    def _sync(self, key: SyncKey, pushed: int | None, delivery: str | None = None) -> Outcome:
        try:
            result = self._runner(key.kind).notify(key, pushed=pushed, delivery=delivery)
        except AppError as exc:
            if exc.code not in ACCOUNT_NEEDS_USER:
                raise
            log.info(
                "notification for an account that cannot sync",
                extra={"source": key.kind.value, "error_code": exc.code.value},
            )
            return Outcome.NEEDS_USER
        return Outcome(result.value)
