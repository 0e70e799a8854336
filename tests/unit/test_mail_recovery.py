"""The Gmail recovery window after an expired historyId."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.sources.mail_recovery import RECOVERY_MARGIN, received_since, recovery_since

LAST_PASS = datetime(2026, 3, 4, 3, 0, tzinfo=UTC)


def _received(moment: datetime) -> dict[str, str]:
    return {"id": "m1", "internalDate": str(int(moment.timestamp() * 1000))}


def test_mail_since_the_last_pass_is_recovered_and_older_mail_never() -> None:
    since = recovery_since(LAST_PASS)
    assert since == LAST_PASS - RECOVERY_MARGIN
    assert received_since(_received(LAST_PASS + timedelta(seconds=5)), since)
    assert received_since(_received(LAST_PASS - RECOVERY_MARGIN), since)
    assert not received_since(_received(LAST_PASS - timedelta(hours=1)), since)
    assert not received_since({"id": "m2"}, since)  # no internalDate: not provably recent
    assert recovery_since(None) is None  # no known pass: recover nothing
