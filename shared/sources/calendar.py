"""What Calendar event changes mean for the feed (the calls are in
``shared.adapters.calendar_source``).

Every event we have seen has a small record (``EventRecord``: etag, cancelled or not,
title, start, series), stored one document per event, so a calendar's sync state is
bounded per document whatever its size. A pass compares what Google listed with those
records and produces feed items plus the record writes that go with them.

Google's shapes (https://developers.google.com/workspace/calendar/api/v3/reference/events
and https://developers.google.com/workspace/calendar/api/guides/recurringevents):

- a deleted event comes back on incremental sync with ``status: cancelled`` and possibly
  nothing but its ``id`` ("Deleted events are only guaranteed to have the id field
  populated");
- a cancelled occurrence of a recurring event is an exception ``<master id>_<original
  start>`` with only ``id``, ``recurringEventId`` and ``originalStartTime`` guaranteed; we
  never saw that id before, so it is matched to its series;
- a moved or modified occurrence is an exception with ``recurringEventId`` and
  ``originalStartTime``;
- "this and following" changes the master's RRULE and creates a new series;
- a full list (no sync token, or after 410 Gone) returns no cancelled events, so what is
  missing from it was deleted.

Every state change of one id is its own item: the item version is the etag Google gave
that state (or, for a deletion without one, the etag of the state it ended), so created →
deleted → restored → deleted again is four items.

The user's own writes through our calendar API leave marks on the event's record (see
``shared.services.own_changes``): an intent (``own_intent``) before Google is called, the
version Google answered (``own_mark``) after. A pass that tells the marked version, or a
version changed while an intent was open, sets ``by_me``; it drops the marks it is done with
in its record write.

Response values are read tolerantly: a value of the wrong type counts as absent.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.activity import ACTIVITY_RETENTION, ActivityItem, Kind, item_id
from shared.ports.sync import IndexWrite, SyncKey

_TITLE_MAX = 200
_INSTANCE_SUFFIX = re.compile(r"^\d{8}(T\d{6}Z)?$")

DELETED = None  # the version an own deletion marks (Google answers a delete with no body)
# A mark older than this is dropped by the next record write of its event (reconcile runs
# every 30 minutes, so a sync never lags a write that long); a mark-only record (no sync
# record yet) is deleted by Firestore TTL at its ``expires_at``.
OWN_MARK_RETENTION = timedelta(days=2)
# Fields of an event's document written by our calendar API (``shared.adapters.own_marks``):
# the own marks (mark key -> when written), and the TTL of a document holding only marks.
MARKS_FIELD = "own"
MARK_EXPIRY_FIELD = "expires_at"
# An intent stays open while its write is in flight: longer than any Calendar API request
# (each Google call times out after ``google_api_timeout_seconds``, at most 60 s). An
# intent left open by a crash is not believed after this, and dropped by the next record
# write; a change seen later without its version's mark reads as someone else's.
OWN_INTENT_WINDOW = timedelta(minutes=2)
# How much earlier than the intent Google's ``updated`` of the change may read and still be
# ours: the clocks of Google and of our functions are both synchronised, but not to the ms.
OWN_INTENT_CLOCK_SKEW = timedelta(seconds=1)
_INTENT_PREFIX = "i"


def own_mark(etag: str | None) -> str:
    """The key of an own write's mark on the event's record: the version Google answered
    (its etag), or the deletion (``DELETED``: matched by event, the deleted version is
    unknown to the deleter). A hash, so the record holds no etag and the key is a plain
    Firestore field name."""
    version = "deleted" if etag is DELETED else f"etag:{etag}"
    return "v" + hashlib.sha256(version.encode()).hexdigest()[:32]


def own_intent() -> str:
    """The key of an intent: one write of the user's own, about to be sent to Google.

    Written before the call, so a pass that sees the change before the version's mark is
    written (Google may notify before it answers us) still tells it as ours; replaced by
    the version's mark once Google answers, withdrawn if the write fails. Random, so
    concurrent writes to one event each have their own."""
    return _INTENT_PREFIX + secrets.token_hex(16)


def is_intent(key: str) -> bool:
    """Whether an own mark key is an intent (``own_intent``), not a version's mark."""
    return key.startswith(_INTENT_PREFIX)


def _open_intent(marks: dict[str, datetime], updated: datetime | None, now: datetime) -> bool:
    """Whether an intent covers a change Google stamped ``updated`` (None: not stamped),
    seen ``now``: the intent is still open and the change is not older than it."""
    return any(
        is_intent(key)
        and now - at <= OWN_INTENT_WINDOW
        and (updated is None or updated >= at - OWN_INTENT_CLOCK_SKEW)
        for key, at in marks.items()
    )


class Change(StrEnum):
    """What happened to an event, as the feed tells it."""

    CREATED = "created"
    MODIFIED = "modified"
    MOVED = "moved"
    RESTORED = "restored"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class EventRecord:
    """What we keep of one event between passes (one Firestore document each)."""

    etag: str
    cancelled: bool = False
    title: str | None = None
    start: str | None = None
    series: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The stored shape."""
        return {
            "etag": self.etag,
            "cancelled": self.cancelled,
            "title": self.title,
            "start": self.start,
            "series": self.series,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EventRecord:
        """From the stored shape (unknown or odd values read as absent)."""
        return cls(
            etag=_text(data.get("etag")) or "",
            cancelled=data.get("cancelled") is True,
            title=_text(data.get("title")),
            start=_text(data.get("start")),
            series=_text(data.get("series")),
        )


def is_record(data: dict[str, Any]) -> bool:
    """Whether a stored event document is a sync record; else it holds only own marks
    (written by our calendar API before the sync saw the event)."""
    return "etag" in data


def marks_of(data: dict[str, Any]) -> dict[str, datetime]:
    """The own marks of a stored event document: mark key -> when it was written."""
    own = data.get(MARKS_FIELD)
    if not isinstance(own, dict):
        return {}
    return {key: at for key, at in own.items() if isinstance(key, str) and isinstance(at, datetime)}


def records_and_marks(
    stored: dict[str, dict[str, Any]],
) -> tuple[dict[str, EventRecord], dict[str, dict[str, datetime]]]:
    """The sync records among stored event documents (by event id), and the own marks of
    them all (a document with marks only is no record: the sync has not seen its event)."""
    records = {event_id: data for event_id, data in stored.items() if is_record(data)}
    known = {event_id: EventRecord.from_dict(data) for event_id, data in records.items()}
    own = {event_id: marks for event_id, data in stored.items() if (marks := marks_of(data))}
    return known, own


@dataclass
class CalendarPass:
    """Items and record writes of one pass; ``skipped`` counts events without a usable id."""

    items: list[ActivityItem] = field(default_factory=list)
    writes: list[IndexWrite] = field(default_factory=list)
    skipped: int = 0


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _event_id(event: Any) -> str | None:
    if not isinstance(event, dict):
        return None
    value = _text(event.get("id"))
    return value if value is not None and len(value) <= 1024 else None


def _when(value: Any) -> str | None:
    """A start/originalStartTime as one comparable string, the instant in UTC (None when
    absent or odd)."""
    if not isinstance(value, dict):
        return None
    date_time, date = _text(value.get("dateTime")), _text(value.get("date"))
    if date_time is not None:
        try:
            moment = datetime.fromisoformat(date_time.replace("Z", "+00:00"))
            return moment.astimezone(UTC).isoformat() if moment.tzinfo else moment.isoformat()
        except (ValueError, OverflowError):
            return date_time
    return date


def series_of(event: dict[str, Any]) -> str | None:
    """The id of the recurring event this one is an occurrence of, if any."""
    series = _text(event.get("recurringEventId"))
    if series is not None:
        return series
    event_id = _event_id(event) or ""
    master, _, suffix = event_id.rpartition("_")
    return master if master and _INSTANCE_SUFFIX.match(suffix) else None


def ids_to_look_up(events: Iterable[Any]) -> set[str]:
    """The ids whose records an incremental pass needs: each event and its series."""
    wanted: set[str] = set()
    for event in events:
        event_id = _event_id(event)
        if event_id is None:
            continue
        wanted.add(event_id)
        series = series_of(event)
        if series is not None:
            wanted.add(series)
    return wanted


def _updated(event: dict[str, Any]) -> datetime | None:
    """Google's last-modification time of the event (``updated``, RFC 3339), if readable."""
    value = _text(event.get("updated"))
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _title(value: Any) -> str | None:
    text = _text(value)
    return text[:_TITLE_MAX] if text is not None else None


def _item(
    key: SyncKey,
    event_id: str,
    kind: Kind,
    change: Change,
    version: str,
    title: str | None,
    occurred_at: datetime,
    now: datetime,
) -> ActivityItem:
    return ActivityItem(
        id=item_id(kind, f"{key.calendar_id}/{event_id}", version),
        kind=kind,
        category=kind.category,
        resource_id=event_id,
        group_key=key.doc_id,
        title=title,
        actor=None,
        occurred_at=occurred_at,
        created_at=now,
        expires_at=now + ACTIVITY_RETENTION,
        calendar_id=key.calendar_id,
        change=change.value,
    )


class _Pass:
    """One pass over a calendar: records as known now, items and writes so far."""

    def __init__(
        self,
        key: SyncKey,
        known: dict[str, EventRecord],
        own: dict[str, dict[str, datetime]],
        now: datetime,
    ) -> None:
        self.key, self.known, self.own, self.now = key, known, own, now
        # The marks as read, kept whole: an occurrence's change is judged by its series'
        # marks too, even after the series' own record write consumed them.
        self.marks_read = dict(own)
        self.result = CalendarPass()

    def _write(
        self,
        event_id: str,
        record: EventRecord | None,
        mark: str | None,
        updated: datetime | None,
        series: str | None = None,
    ) -> bool:
        """Store (or forget) the record; whether this state is the user's own: the own mark
        ``mark`` (the key this state would have been marked with) was on it, or an open
        intent covers a change made at ``updated`` (None: unknown). An occurrence of a
        ``series`` is also the user's own when the series' record holds an open intent or,
        for a deletion, the series' deletion mark: deleting or changing a recurring event
        through our API changes its modified occurrences too. The write drops the
        marks it read that are done with: the matched one, any older than
        ``OWN_MARK_RETENTION``, an intent no longer open, and a deletion mark once the event
        is live again. An open intent stays: its writer replaces it with the version's
        mark. Marks written after our read are kept (the adapter deletes the named ones
        only)."""
        if record is None:
            self.known.pop(event_id, None)
        else:
            self.known[event_id] = record
        marks = self.own.pop(event_id, {})
        live = record is not None and not record.cancelled
        stale = self.now - OWN_MARK_RETENTION
        closed = self.now - OWN_INTENT_WINDOW
        drop = tuple(
            sorted(
                key
                for key, at in marks.items()
                if key == mark
                or at < stale
                or (is_intent(key) and at < closed)
                or (live and key == own_mark(DELETED))
            )
        )
        self.result.writes.append(
            IndexWrite(event_id, record.to_dict() if record is not None else None, drop)
        )
        series_marks = self.marks_read.get(series, {}) if series is not None else {}
        return (
            (mark is not None and mark in marks)
            or _open_intent(marks, updated, self.now)
            or (mark == own_mark(DELETED) and mark in series_marks)
            or _open_intent(series_marks, updated, self.now)
        )

    def _emit(
        self,
        event_id: str,
        kind: Kind,
        change: Change,
        version: str,
        title: str | None,
        at: datetime,
        *,
        by_me: bool = False,
    ) -> None:
        item = _item(self.key, event_id, kind, change, version, title, at, self.now)
        self.result.items.append(item.model_copy(update={"by_me": True}) if by_me else item)

    def present(self, event: dict[str, Any], event_id: str, *, report: bool) -> None:
        """An event that exists (any status but cancelled)."""
        etag = _text(event.get("etag")) or _text(event.get("updated")) or ""
        record = self.known.get(event_id)
        if record is not None and not record.cancelled and record.etag == etag and etag:
            return
        series = series_of(event)
        start = _when(event.get("start"))
        title = _title(event.get("summary"))
        if title is None and series is not None and series in self.known:
            title = self.known[series].title
        mark = own_mark(etag) if etag else None
        record_now = EventRecord(etag, False, title, start, series)
        updated = _updated(event)
        mine = self._write(event_id, record_now, mark, updated, series)
        if not report:
            return
        if record is not None and record.cancelled:
            change = Change.RESTORED
        elif record is not None:
            change = Change.MOVED if start != record.start else Change.MODIFIED
        elif series is not None and series in self.known:
            original = _when(event.get("originalStartTime"))
            change = Change.MOVED if original is not None and start != original else Change.MODIFIED
        else:
            change = Change.CREATED
        version = etag or f"{change.value}:{record.etag if record else ''}"
        at = updated or self.now
        self._emit(event_id, Kind.CALENDAR_CHANGED, change, version, title, at, by_me=mine)

    def cancelled(self, event: dict[str, Any], event_id: str) -> None:
        """An event Google lists as cancelled (incremental sync only)."""
        record = self.known.get(event_id)
        series = series_of(event)
        parent = self.known.get(series) if series is not None else None
        if record is not None and record.cancelled:
            return  # told already
        if record is None and (parent is None or parent.cancelled):
            return  # never seen, nor its series: nothing to tell
        before = record or parent
        assert before is not None
        etag = _text(event.get("etag"))
        title = (record.title if record else None) or (parent.title if parent else None)
        record = EventRecord(etag or before.etag, True, title, None, series)
        updated = _updated(event)
        mine = self._write(event_id, record, own_mark(DELETED), updated, series)
        version = etag or f"cancelled:{before.etag}"
        at = updated or self.now
        self._emit(
            event_id, Kind.CALENDAR_DELETED, Change.CANCELLED, version, title, at, by_me=mine
        )

    def gone(self, event_id: str, record: EventRecord, *, report: bool) -> None:
        """An event missing from a full list: deleted while we were not told (a deletion
        through our API is still ours: its mark is on the record being dropped)."""
        mine = self._write(event_id, None, own_mark(DELETED), None, record.series)
        if report and not record.cancelled:
            version = f"gone:{record.etag}"
            self._emit(
                event_id,
                Kind.CALENDAR_DELETED,
                Change.CANCELLED,
                version,
                record.title,
                self.now,
                by_me=mine,
            )


def incremental_pass(
    key: SyncKey,
    events: list[Any],
    known: dict[str, EventRecord],
    now: datetime,
    own: dict[str, dict[str, datetime]] | None = None,
) -> CalendarPass:
    """Items and writes for the events of an incremental list.

    ``known``: the records of at least ``ids_to_look_up(events)`` (absent = never seen);
    ``own``: the own marks read with them, by event id (``marks_of``).
    """
    run = _Pass(key, dict(known), dict(own or {}), now)
    for event in events:
        event_id = _event_id(event)
        if event_id is None:
            run.result.skipped += 1
        elif event.get("status") == "cancelled":
            run.cancelled(event, event_id)
        else:
            run.present(event, event_id, report=True)
    return run.result


def full_pass(
    key: SyncKey,
    events: list[Any],
    known: dict[str, EventRecord],
    now: datetime,
    *,
    report: bool,
    own: dict[str, dict[str, datetime]] | None = None,
) -> CalendarPass:
    """Items and writes for a full list (no cancelled events) against every record.

    ``report`` False (the first listing of a calendar) writes records and tells nothing.
    Records of events missing from the list are dropped, after a deletion item for those
    we had not seen cancelled. ``own``: the own marks of the stored documents, by event id.
    """
    run = _Pass(key, dict(known), dict(own or {}), now)
    listed: set[str] = set()
    for event in events:
        event_id = _event_id(event)
        if event_id is None:
            run.result.skipped += 1
            continue
        if event.get("status") == "cancelled":
            continue  # a full list has none; if Google sends one, it is not "listed"
        listed.add(event_id)
        run.present(event, event_id, report=report)
    for event_id in sorted(set(known) - listed):
        run.gone(event_id, known[event_id], report=report)
    return run.result
