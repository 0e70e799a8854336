"""What Calendar event changes mean for the feed: the pure functions of
``shared.sources.calendar`` over Google's documented shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.activity import Kind
from shared.ports.sync import IndexWrite, SourceKind, SyncKey
from shared.sources.calendar import (
    EventRecord,
    full_pass,
    ids_to_look_up,
    incremental_pass,
    series_of,
)

KEY = SyncKey("u1", SourceKind.CALENDAR, "team@group.calendar.google.com")
NOW = datetime(2026, 12, 1, tzinfo=UTC)
MASTER = "abc123def456"
INVITATION = (
    "_60q30c1g60o30e1i60o4ac1g60rj8gpl88rj2c1h84s34h9g60s30c1g60o30c1g6co32c9k74p3gd9g64o30c1g"
)


def _event(event_id: str, etag: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "etag": etag,
        "status": "confirmed",
        "summary": "Weekly sync",
        "start": {"dateTime": "2026-12-01T10:00:00+09:00"},
        "end": {"dateTime": "2026-12-01T11:00:00+09:00"},
        "updated": "2026-12-01T00:00:00.000Z",
        **fields,
    }


def _apply(known: dict[str, EventRecord], writes: list[IndexWrite]) -> dict[str, EventRecord]:
    result = dict(known)
    for write in writes:
        if write.record is None:
            result.pop(write.event_id, None)
        else:
            result[write.event_id] = EventRecord.from_dict(write.record)
    return result


def _changes(items: list[Any]) -> list[tuple[str, str, str, str | None]]:
    return [(i.kind.value, i.change, i.resource_id, i.title) for i in items]


def test_cancelled_occurrence_of_a_known_series_is_a_deletion_with_the_series_title() -> None:
    known = {MASTER: EventRecord('"1"', title="Weekly sync")}
    # Google: cancelled exceptions guarantee only id, recurringEventId, originalStartTime.
    cancelled = {
        "id": f"{MASTER}_20261215T010000Z",
        "status": "cancelled",
        "recurringEventId": MASTER,
        "originalStartTime": {"dateTime": "2026-12-15T10:00:00+09:00"},
    }
    result = incremental_pass(KEY, [cancelled], known, NOW)
    assert _changes(result.items) == [
        ("calendar.deleted", "cancelled", f"{MASTER}_20261215T010000Z", "Weekly sync")
    ]
    assert result.items[0].calendar_id == KEY.calendar_id
    # Only the id and status: the series is read from the id.
    bare = {"id": f"{MASTER}_20261222T010000Z", "status": "cancelled"}
    assert _changes(incremental_pass(KEY, [bare], known, NOW).items)[0][:2] == (
        "calendar.deleted",
        "cancelled",
    )


def test_moved_and_modified_occurrences() -> None:
    known = {MASTER: EventRecord('"1"', title="Weekly sync")}
    moved = _event(
        f"{MASTER}_20261208T010000Z",
        '"5"',
        recurringEventId=MASTER,
        originalStartTime={"dateTime": "2026-12-08T10:00:00+09:00"},
        start={"dateTime": "2026-12-08T15:00:00+09:00"},
    )
    modified = _event(
        f"{MASTER}_20261215T010000Z",
        '"6"',
        summary="Weekly sync (agenda)",
        recurringEventId=MASTER,
        originalStartTime={"dateTime": "2026-12-15T10:00:00+09:00"},
        start={"dateTime": "2026-12-15T01:00:00Z"},  # the same instant, another offset
    )
    result = incremental_pass(KEY, [moved, modified], known, NOW)
    assert [(i.change, i.resource_id) for i in result.items] == [
        ("moved", moved["id"]),
        ("modified", modified["id"]),
    ]


def test_created_deleted_restored_deleted_again_are_four_items() -> None:
    known: dict[str, EventRecord] = {}
    seen: list[Any] = []
    for event in (
        _event(INVITATION, '"1"'),
        {"id": INVITATION, "status": "cancelled", "etag": '"2"'},
        _event(INVITATION, '"3"'),
        {"id": INVITATION, "status": "cancelled"},  # no etag: versioned by the state it ended
    ):
        result = incremental_pass(KEY, [event], known, NOW)
        known = _apply(known, result.writes)
        seen += result.items
    assert [(i.kind.value, i.change, i.title) for i in seen] == [
        ("calendar.changed", "created", "Weekly sync"),
        ("calendar.deleted", "cancelled", "Weekly sync"),
        ("calendar.changed", "restored", "Weekly sync"),
        ("calendar.deleted", "cancelled", "Weekly sync"),
    ]
    assert len({i.id for i in seen}) == 4
    # The same list read again (a retried pass) tells nothing new.
    again = incremental_pass(KEY, [{"id": INVITATION, "status": "cancelled"}], known, NOW)
    assert again.items == []


def test_whole_series_cancelled_tells_the_series_not_each_unseen_occurrence() -> None:
    known = {MASTER: EventRecord('"1"', title="Weekly sync")}
    events = [
        {"id": MASTER, "status": "cancelled"},
        {"id": f"{MASTER}_20261208T010000Z", "status": "cancelled", "recurringEventId": MASTER},
    ]
    result = incremental_pass(KEY, events, known, NOW)
    assert _changes(result.items) == [("calendar.deleted", "cancelled", MASTER, "Weekly sync")]


def test_this_and_following_split_changes_the_old_series_and_creates_the_new_one() -> None:
    known = {MASTER: EventRecord('"1"', title="Weekly sync", start="2026-12-01T01:00:00+00:00")}
    old = _event(MASTER, '"7"', recurrence=["RRULE:FREQ=WEEKLY;UNTIL=20261214T145959Z"])
    new = _event(
        f"{MASTER}_R20261215T010000",
        '"8"',
        recurrence=["RRULE:FREQ=WEEKLY;COUNT=2"],
        start={"dateTime": "2026-12-15T10:00:00+09:00"},
    )
    result = incremental_pass(KEY, [old, new], known, NOW)
    assert [(i.change, i.resource_id) for i in result.items] == [
        ("modified", MASTER),
        ("created", new["id"]),
    ]
    assert series_of(new) is None  # `_R…` is a new series, not an occurrence


def test_unchanged_etag_and_unknown_cancellations_tell_nothing() -> None:
    known = {"e1": EventRecord('"1"', title="A")}
    events = [_event("e1", '"1"'), {"id": "never-seen", "status": "cancelled"}]
    result = incremental_pass(KEY, events, known, NOW)
    assert result.items == [] and result.writes == []


def test_full_resync_finds_deletions_changes_and_forgets_gone_records() -> None:
    known = {
        "keep": EventRecord('"1"', title="Keep", start="2026-12-01T01:00:00+00:00"),
        "moved": EventRecord('"2"', title="Moved", start="2026-12-01T01:00:00+00:00"),
        "gone": EventRecord('"3"', title="Gone"),
        "was-cancelled": EventRecord('"4"', cancelled=True, title="Old"),
    }
    events = [
        _event("keep", '"1"'),
        _event("moved", '"9"', summary="Moved", start={"dateTime": "2026-12-02T10:00:00+09:00"}),
        _event("new", '"10"', summary="New"),
    ]
    result = full_pass(KEY, events, known, NOW, report=True)
    assert sorted(_changes(result.items)) == [
        ("calendar.changed", "created", "new", "New"),
        ("calendar.changed", "moved", "moved", "Moved"),
        ("calendar.deleted", "cancelled", "gone", "Gone"),
    ]
    forgotten = {w.event_id for w in result.writes if w.record is None}
    assert forgotten == {"gone", "was-cancelled"}
    first = full_pass(KEY, events, {}, NOW, report=False)
    assert first.items == [] and len(first.writes) == 3


def test_odd_values_are_read_as_absent_and_events_without_id_are_skipped() -> None:
    events: list[Any] = [
        {"id": "odd", "etag": 7, "status": "confirmed", "summary": ["x"], "updated": "yesterday"},
        {"status": "confirmed"},
        "not an event",
        {"id": "far", "etag": '"1"', "updated": "9999-12-31T23:59:59-14:00"},
    ]
    result = incremental_pass(KEY, events, {}, NOW)
    assert result.skipped == 2
    assert [(i.resource_id, i.title, i.occurred_at) for i in result.items] == [
        ("odd", None, NOW),
        ("far", None, NOW),
    ]


def test_ids_to_look_up_include_series_of_occurrences() -> None:
    events = [
        {"id": f"{MASTER}_20261215", "status": "cancelled"},
        {"id": "x1", "recurringEventId": "series9"},
        {"id": INVITATION},
    ]
    assert ids_to_look_up(events) == {
        f"{MASTER}_20261215",
        MASTER,
        "x1",
        "series9",
        INVITATION,
    }


def test_item_version_and_kind_appear_in_the_feed_item() -> None:
    result = incremental_pass(KEY, [_event("e1", '"1"')], {}, NOW)
    (item,) = result.items
    assert item.kind is Kind.CALENDAR_CHANGED and item.group_key == KEY.doc_id
