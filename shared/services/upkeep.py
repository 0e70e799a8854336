"""When each source next needs maintenance: renewal, re-watch, repair, reconcile (pure).

Every cursor document carries the upkeep state of its source (one watch per source: the
Gmail ``users.watch``, the Drive changes channel, one channel per calendar) and ``due_at``,
the earliest of its due times. The maintenance tick queries only ``due_at <= now``.

Times are timezone-aware datetimes; intervals are ``timedelta``.

Google references: Gmail ``users.watch`` must be renewed at least every 7 days, daily is
recommended (https://developers.google.com/workspace/gmail/api/guides/push#renewing_mailbox_watch);
Drive and Calendar channels end at the ``expiration`` Google returns and are replaced, never
renewed in place (https://developers.google.com/workspace/drive/api/guides/push#renew-channels).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.ports.sync import SourceKind


class WatchStatus(StrEnum):
    """Health of a source's watch, as ``GET /v1/google`` shows it."""

    ACTIVE = "active"  # a live watch or channel
    REPAIRING = "repairing"  # no live watch; maintenance retries with backoff
    FAILED = "failed"  # repairs keep failing: alerted, still retried at the longest backoff


@dataclass(frozen=True)
class UpkeepPolicy:
    """The knobs of upkeep (defaults from ``Settings``; see ``docs/scale.md``).

    - ``renew_before``: replace a channel this long before it expires (``CHANNEL_RENEW_HOURS``).
    - ``gmail_rewatch``: call ``users.watch`` again when its expiry is nearer than this
      (7 days - 6 days: daily, as Google recommends).
    - ``reconcile_min`` / ``reconcile_max``: shortest interval (a silent or unhealthy source,
      or one where a reconcile found changes no push announced) and longest interval (a
      healthy channel that delivered pushes) between two reconciles of a source.
    - ``repair_base`` / ``repair_max``: backoff of repairs (doubling), ``alert_after``
      failed repairs turn the watch ``failed`` and log the ``watch_repair_failed`` alert.
    - ``calendar_list_every``: how often a user's calendar list is re-read (on their
      calendar sources, ``calendar_list_at``), so calendars added, removed or unticked
      start or stop being followed (``CALENDAR_LIST_HOURS``, daily: one call inside the
      12-calls-a-day budget of an idle account, where hourly would cost 24).
    """

    renew_before: timedelta = timedelta(hours=12)
    gmail_rewatch: timedelta = timedelta(days=6)
    reconcile_min: timedelta = timedelta(minutes=30)
    reconcile_max: timedelta = timedelta(hours=8)
    repair_base: timedelta = timedelta(minutes=5)
    repair_max: timedelta = timedelta(hours=6)
    alert_after: int = 3
    calendar_list_every: timedelta = timedelta(hours=24)

    def renew_at(self, kind: SourceKind, record: dict[str, Any]) -> datetime | None:
        """When the source's watch must be replaced (None: no watch to renew)."""
        if kind is SourceKind.GMAIL:
            expires = record.get("watch_expires_at")
            return expires - self.gmail_rewatch if expires else None
        expires = record.get("channel_expires_at")
        return expires - self.renew_before if expires else None

    def repair_delay(self, failures: int) -> timedelta:
        """Wait before the next repair after ``failures`` (>= 1) failed attempts."""
        exponent = min(max(failures - 1, 0), 16)
        return min(self.repair_base * (2**exponent), self.repair_max)

    def next_reconcile(
        self, record: dict[str, Any], now: datetime, found: int | None
    ) -> tuple[datetime, timedelta]:
        """(when, interval) of the next reconcile after one that found ``found`` new items
        (None: skipped, because pushes arrived since the last reconcile).

        Adaptive: a healthy watch that delivered pushes is reconciled every
        ``reconcile_max``; a silent source doubles its interval after each empty reconcile,
        from ``reconcile_min`` up to ``reconcile_max``; a reconcile that found items no push
        announced (a dropped push) and an unhealthy watch go back to ``reconcile_min``.
        """
        status = record.get("watch_status") or WatchStatus.ACTIVE
        previous = timedelta(seconds=int(record.get("reconcile_every_s") or 0))
        if status != WatchStatus.ACTIVE or (found is not None and found > 0):
            interval = self.reconcile_min
        elif found is None:
            interval = self.reconcile_max
        else:
            interval = min(max(previous * 2, self.reconcile_min), self.reconcile_max)
        return now + interval, interval

    def due_at(self, kind: SourceKind, record: dict[str, Any]) -> datetime | None:
        """The earliest of the source's renewal, repair and reconcile times (and, for a
        calendar, its calendar list re-read)."""
        status = record.get("watch_status") or WatchStatus.ACTIVE
        times = [record.get("reconcile_at")]
        if kind is SourceKind.CALENDAR:
            times.append(record.get("calendar_list_at"))
        if status == WatchStatus.ACTIVE:
            times.append(self.renew_at(kind, record))
        else:
            times.append(record.get("repair_at"))
        present = [moment for moment in times if moment is not None]
        return min(present) if present else None


def pushed_since_reconcile(record: dict[str, Any]) -> bool:
    """A notification was synced after the last reconcile: the channel is working."""
    notified = record.get("last_notified_at")
    reconciled = record.get("reconciled_at") or record.get("watch_started_at")
    return notified is not None and (reconciled is None or notified > reconciled)


def calendar_list_due(record: dict[str, Any], now: datetime) -> bool:
    """The user's calendar list should be re-read when this calendar source is handled
    (never read for it yet, or its time has come)."""
    at = record.get("calendar_list_at")
    return at is None or at <= now
