"""Gmail recovery when the stored historyId is no longer valid (``history.list`` 404).

Gmail keeps history for a limited time ("typically at least a week", history.list
reference: https://developers.google.com/gmail/api/reference/rest/v1/users.history/list) and
answers 404 for an older ``startHistoryId``. Restarting at the profile's current historyId
alone would lose the mail that arrived since the last committed pass (that historyId already
counts it). So the pass also lists the newest INBOX messages and records those received since
the last pass: item ids are deterministic, so mail already in the feed is neither recorded nor
pushed twice. Search (``q=after:``) is not available with the ``gmail.metadata`` scope
(messages.list reference), so the window is applied to each message's ``internalDate``.

Bounds: the ``RECOVERY_MAX_MESSAGES`` newest INBOX messages (one ``messages.list`` page and
at most that many ``messages.get``); mail received more than ``RECOVERY_MARGIN`` before the
last committed pass is never recorded (old mail is not pushed). If more mail than the bound
arrived since the last pass, the older part of it is not recovered (logged as
``recovery_truncated``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

RECOVERY_MAX_MESSAGES = 50
# Clock skew between Gmail's internalDate and our pass times, and Gmail's history lag.
RECOVERY_MARGIN = timedelta(minutes=2)


def recovery_since(last_pass: datetime | None) -> datetime | None:
    """Mail received at or after this time is recovered; None (no known pass): none is."""
    return None if last_pass is None else last_pass - RECOVERY_MARGIN


def received_since(message: dict[str, Any], since: datetime) -> bool:
    """Whether Gmail received the message (``internalDate``, epoch ms) at or after ``since``."""
    millis = int(message.get("internalDate") or 0)
    return millis > 0 and datetime.fromtimestamp(millis / 1000, UTC) >= since
