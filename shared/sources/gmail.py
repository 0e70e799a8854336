"""What a Gmail message means for the feed (the calls are in ``shared.adapters.gmail_source``)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any

from shared.activity import ACTIVITY_RETENTION, ActivityItem, Kind, item_id

_TITLE_MAX = 200


def _header(message: dict[str, Any], name: str) -> str | None:
    for header in message.get("payload", {}).get("headers", []):
        if str(header.get("name", "")).lower() == name.lower():
            return str(header.get("value", ""))
    return None


def mail_item(message: dict[str, Any], now: datetime) -> ActivityItem:
    """A feed item from a message's metadata (sender name, subject; never the body)."""
    sender_name, sender_address = parseaddr(_header(message, "From") or "")
    subject = (_header(message, "Subject") or "")[:_TITLE_MAX]
    millis = int(message.get("internalDate") or 0)
    occurred = datetime.fromtimestamp(millis / 1000, UTC) if millis else now
    return ActivityItem(
        id=item_id(Kind.MAIL_RECEIVED, str(message["id"]), ""),
        kind=Kind.MAIL_RECEIVED,
        category=Kind.MAIL_RECEIVED.category,
        resource_id=str(message["id"]),
        group_key=str(message.get("threadId") or message["id"]),
        title=subject or None,
        actor=sender_name or sender_address or None,
        occurred_at=occurred,
        created_at=now,
        expires_at=now + ACTIVITY_RETENTION,
    )
