"""Ports of the watch half: push channels we hold, the Google watch calls and the cursor
records the watch service reads and writes.

Google references: Drive ``changes.watch`` and Calendar ``events.watch`` create web-hook
channels (https://developers.google.com/workspace/drive/api/guides/push,
https://developers.google.com/workspace/calendar/api/guides/push); Gmail ``users.watch``
publishes to Pub/Sub (https://developers.google.com/workspace/gmail/api/guides/push).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared.ports.sync import CursorState, SyncKey


def secret_hash(secret: str) -> str:
    """What is stored of a channel secret (the webhook compares hashes in constant time)."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Channel:
    """A Calendar or Drive push channel we created."""

    id: str
    uid: str
    source: str
    resource_id: str
    secret_hash: str
    expires_at: datetime
    calendar_id: str = ""


@dataclass(frozen=True)
class ChannelRequest:
    """The body of a ``watch`` call: our channel id, its secret token and our webhook URL."""

    id: str
    token: str
    address: str


@dataclass(frozen=True)
class WatchGrant:
    """What Google answered to a ``watch``: the watched resource and when the watch ends."""

    resource_id: str
    expires_at: datetime


class ChannelStore(Protocol):
    """Port: the channels we hold (``channels/{id}``) and Gmail address routing."""

    def save(self, channel: Channel) -> None: ...
    def get(self, channel_id: str) -> Channel | None: ...
    def delete(self, channel_id: str) -> None: ...
    def of_user(self, uid: str) -> list[Channel]: ...
    def route_gmail(self, address: str, uid: str) -> None: ...
    def gmail_owner(self, address: str) -> str | None: ...


class CursorRecords(Protocol):
    """Port: the cursor documents as the watch service sees them (one read or write each)."""

    def save_cursor(self, key: SyncKey, cursor: CursorState, now: datetime, **extra: Any) -> None:
        """Start (or restart) a source at a fresh cursor."""
        ...

    def cursor_of(self, key: SyncKey) -> dict[str, Any] | None:
        """The stored cursor document, or None."""
        ...

    def set_watch_expiry(self, key: SyncKey, expires_at: datetime) -> None:
        """Record when the source's Gmail watch ends."""
        ...

    def set_upkeep(self, key: SyncKey, fields: dict[str, Any], create: bool = False) -> bool:
        """Merge upkeep fields (watch state, due times) into the cursor document; with
        ``create`` the document is made when missing. False when it is gone."""
        ...

    def of_user(self, uid: str) -> list[tuple[SyncKey, dict[str, Any]]]:
        """Every cursor document of one user (one query)."""
        ...

    def calendars_of(self, uid: str) -> set[str]:
        """Ids of the calendars the user's cursors follow."""
        ...

    def forget(self, key: SyncKey) -> None:
        """Delete a source's cursor, lease and event records."""
        ...


class CalendarListReader(Protocol):
    """Port: the user's calendar list (``calendarList.list``)."""

    def followed_calendars(self, uid: str) -> list[str]:
        """Calendars to follow: readable and selected (``primary`` for the primary one)."""
        ...


class MailboxWatch(Protocol):
    """Port: the Gmail ``users.getProfile``, ``users.watch`` and ``users.stop`` calls."""

    def profile(self, uid: str) -> tuple[str, str]:
        """(emailAddress, historyId) of the user's mailbox."""
        ...

    def watch(self, uid: str, topic: str) -> tuple[str, datetime]:
        """Watch INBOX; (historyId to start from, expiration)."""
        ...

    def stop(self, uid: str) -> None:
        """Stop every watch of the mailbox."""
        ...


class ChannelSource(Protocol):
    """Port: a source followed through web-hook channels (Drive changes, Calendar events)."""

    def start_cursor(self, key: SyncKey, now: datetime) -> CursorState:
        """The cursor of the source as it is now (nothing is reported from before)."""
        ...

    def watch(self, key: SyncKey, cursor: str | None, request: ChannelRequest) -> WatchGrant:
        """Open a channel on the source (Drive from ``cursor``, a page token)."""
        ...

    def stop(self, uid: str, channel_id: str, resource_id: str) -> None:
        """``channels.stop``."""
        ...
