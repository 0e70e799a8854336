"""Reading ``history.list`` pages: which added messages are new INBOX mail."""

from __future__ import annotations

from typing import Any

import pytest

from shared.adapters.gmail_source import GmailSource
from shared.scopes import Feature

pytestmark = pytest.mark.unit


class Pages:
    """A gateway that answers each call with the next ``history.list`` page."""

    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages

    def call(self, uid: str, feature: Feature, make: Any, *, resend_safe: bool = True) -> Any:
        assert feature is Feature.GMAIL
        return self.pages.pop(0)


def _added(message_id: str | None, labels: list[str] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {} if message_id is None else {"id": message_id}
    if labels is not None:
        message["labelIds"] = labels
    return {"message": message}


def test_history_keeps_each_inbox_message_once_in_order_across_pages() -> None:
    pages = [
        {
            "history": [
                {"messagesAdded": [_added("m1", ["INBOX"]), _added("m2", ["SENT"])]},
                {"messagesAdded": [_added("m3"), _added("m1", ["INBOX", "UNREAD"])]},
            ],
            "historyId": "20",
            "nextPageToken": "p2",
        },
        {
            "history": [
                {"messagesAdded": [_added(None, ["INBOX"]), _added("m3", ["INBOX"])]},
                {"messagesAdded": [{"message": None}], "id": "x"},
                {},
                {"messagesAdded": [_added("m4", ["INBOX"])]},
            ],
            "historyId": "25",
        },
    ]
    source = GmailSource(Pages(pages))  # type: ignore[arg-type]
    assert source._history("u1", "10") == (["m1", "m3", "m4"], "25")


def test_recovery_skips_listed_messages_without_an_id() -> None:
    from datetime import UTC, datetime

    from shared.ports.sync import CursorState

    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    millis = str(int(now.timestamp() * 1000))
    pages = [
        {"emailAddress": "someone@example.com", "historyId": "99"},  # users.getProfile
        {"messages": [{"id": "m1"}, {}, {"threadId": "t"}, None]},  # messages.list
        {"id": "m1", "threadId": "t1", "internalDate": millis, "labelIds": ["INBOX"]},
    ]
    source = GmailSource(Pages(pages))  # type: ignore[arg-type]
    batch = source._recover("u1", CursorState("5", None, now), now)
    assert [item.resource_id for item in batch.items] == ["m1"]
    assert batch.cursor == "99" and pages == []
