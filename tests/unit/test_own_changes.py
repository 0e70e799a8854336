"""One's own actions: Drive's lastModifyingUser.me and our own Calendar writes mark feed
items ``by_me``; with fakes of our own ports (the function tier's memory sync store, which
merges record writes into the event documents as the Firestore adapter does)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.activity import ActivityItem, Kind
from shared.calendar_models import EventCreate, EventPatch
from shared.errors import AppError
from shared.google_errors import GoogleFailure
from shared.ports.sync import CursorState, IndexWrite, SourceKind, SyncKey
from shared.services.calendar import CalendarService
from shared.services.own_changes import marked_calendars
from shared.sources.calendar import (
    MARK_EXPIRY_FIELD,
    MARKS_FIELD,
    OWN_INTENT_CLOCK_SKEW,
    OWN_INTENT_WINDOW,
    OWN_MARK_RETENTION,
    incremental_pass,
    is_intent,
    own_intent,
    own_mark,
    records_and_marks,
)
from shared.sources.drive import drive_items
from tests.functions.fakes import Journal, MemoryOwnChanges, MemorySyncStore

NOW = datetime(2026, 3, 4, 3, 0, tzinfo=UTC)
KEY = SyncKey("uid-1", SourceKind.CALENDAR, "primary")


class Sync:
    """A calendar's sync over the memory store: each pass reads the records of its events,
    runs the real pass and commits its items and record writes with the cursor."""

    def __init__(self, store: MemorySyncStore, key: SyncKey = KEY, now: datetime = NOW) -> None:
        self.store, self.key, self.passes, self.now = store, key, 0, now
        store.save_cursor(key, CursorState("t0"), now)

    def read(self, events: list[dict[str, Any]]) -> tuple[list[ActivityItem], list[IndexWrite]]:
        """A pass's read and computation, not committed yet."""
        stored = self.store.records_of(self.key, [event["id"] for event in events])
        known, own = records_and_marks(stored)
        result = incremental_pass(self.key, events, known, self.now, own)
        return result.items, result.writes

    def commit(self, items: list[ActivityItem], writes: list[IndexWrite]) -> None:
        start, self.passes = f"t{self.passes}", self.passes + 1
        committed = self.store.commit(
            self.key, CursorState(start), items, CursorState(f"t{self.passes}"), self.now, writes
        )
        assert committed is not None

    def run(self, *events: dict[str, Any]) -> list[ActivityItem]:
        items, writes = self.read(list(events))
        self.commit(items, writes)
        return items


BODY = EventCreate.model_validate(
    {
        "summary": "Design review",
        "start": {"date_time": "2026-03-05T10:00:00+09:00"},
        "end": {"date_time": "2026-03-05T11:00:00+09:00"},
    }
)


def memory() -> tuple[MemorySyncStore, MemoryOwnChanges]:
    journal = Journal()
    store = MemorySyncStore(journal)
    return store, MemoryOwnChanges(journal, store)


class FakeGoogleCalendar:
    """Answers writes as Google does: the event with a new etag."""

    def __init__(self) -> None:
        self.version = 0

    def _answer(self, event_id: str, body: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        return {
            "id": event_id,
            "etag": f'"{self.version}"',
            "status": "confirmed",
            "summary": body.get("summary", "x"),
            "start": {"dateTime": "2026-03-05T10:00:00+09:00"},
            "end": {"dateTime": "2026-03-05T11:00:00+09:00"},
        }

    def insert_event(self, uid: str, calendar_id: str, body: dict[str, Any], **_: Any) -> Any:
        return self._answer(body["id"], body)

    def patch_event(
        self, uid: str, calendar_id: str, event_id: str, body: dict[str, Any], **_: Any
    ) -> Any:
        return self._answer(event_id, body)

    def delete_event(self, uid: str, calendar_id: str, event_id: str, **_: Any) -> None:
        return None


def test_drive_marks_the_users_own_changes() -> None:
    def change(me: bool | None) -> dict[str, Any]:
        user = {"displayName": "Han Jiwoo"} | ({} if me is None else {"me": me})
        file = {"id": "f1", "name": "Budget.xlsx", "lastModifyingUser": user}
        return {"changeType": "file", "fileId": "f1", "time": "2026-03-04T03:00:00Z", "file": file}

    for me, by_me in ((True, True), (False, False), (None, False)):
        (item,) = drive_items([change(me)], {}, NOW, NOW)
        assert item.by_me is by_me
    index: dict[str, str] = {}
    drive_items([change(True)], index, NOW, NOW)
    removal = {"fileId": "f1", "removed": True, "time": "2026-03-04T03:01:00Z"}
    (removed,) = drive_items([removal], index, NOW, NOW)
    assert removed.kind is Kind.DRIVE_DELETED and not removed.by_me


def test_our_calendar_writes_mark_exactly_the_versions_we_wrote() -> None:
    store, own = memory()
    sync, other_user = Sync(store), Sync(store, SyncKey("uid-2", SourceKind.CALENDAR, "primary"))
    service = CalendarService(FakeGoogleCalendar(), own)  # type: ignore[arg-type]
    event = service.create_event("uid-1", "primary", BODY, "none", "key-1").event
    (created,) = sync.run({"id": event.id, "etag": '"1"'})  # our insert
    patched = service.patch_event(
        "uid-1", "primary", event.id, EventPatch(summary="Retro"), "none", None
    )
    (ours,) = sync.run({"id": event.id, "etag": '"2"'})  # our patch
    (theirs,) = sync.run({"id": event.id, "etag": '"3"'})  # someone else's edit
    service.delete_event("uid-1", "primary", event.id, "none", None)
    (deleted,) = sync.run({"id": event.id, "status": "cancelled"})  # our delete
    (another,) = sync.run({"id": "other", "etag": '"1"'})  # another event
    items = [created, ours, theirs, deleted, another]
    assert [item.kind for item in items] == [Kind.CALENDAR_CHANGED] * 3 + [
        Kind.CALENDAR_DELETED,
        Kind.CALENDAR_CHANGED,
    ]
    assert [item.by_me for item in items] == [True, True, False, True, False]
    assert created.change == "created" and patched.summary == "Retro"
    # Every mark was consumed by the pass that told its version.
    assert MARKS_FIELD not in store.records_of(KEY, [event.id])[event.id]
    # Another user's sync never sees this user's writes as theirs.
    (elsewhere,) = other_user.run({"id": event.id, "etag": '"1"'})
    assert not elsewhere.by_me


def test_a_mark_written_after_the_sync_read_survives_its_commit_and_matches_the_next_pass() -> None:
    store, own = memory()
    sync = Sync(store)
    sync.run({"id": "evt", "etag": '"1"'})
    # A pass reads the record for someone else's version 2 ...
    items, writes = sync.read([{"id": "evt", "etag": '"2"'}])
    # ... the user's own patch (version 3) is marked before that pass commits ...
    own.record("uid-1", marked_calendars("primary"), "evt", own_mark('"3"'), NOW)
    sync.commit(items, writes)
    assert [item.by_me for item in items] == [False]
    stored = store.records_of(KEY, ["evt"])["evt"]
    assert stored["etag"] == '"2"' and own_mark('"3"') in stored[MARKS_FIELD]
    # ... and the next pass, telling version 3, finds it.
    (mine,) = sync.run({"id": "evt", "etag": '"3"'})
    assert mine.by_me


def test_another_persons_later_version_is_not_by_me() -> None:
    store, own = memory()
    sync = Sync(store)
    sync.run({"id": "evt", "etag": '"1"'})
    own.record("uid-1", marked_calendars("primary"), "evt", own_mark('"2"'), NOW)
    # Google coalesced our version 2 and someone else's version 3: only 3 is listed.
    (theirs,) = sync.run({"id": "evt", "etag": '"3"'})
    assert not theirs.by_me
    # Nor does a deletion mark that came late (the sync told our deletion before the mark
    # was written) make someone else's later deletion ours once the event was live again.
    (deleted,) = sync.run({"id": "evt", "status": "cancelled"})
    own.record("uid-1", ["primary"], "evt", own_mark(None), NOW)
    assert not deleted.by_me  # the residual race: told as someone else's
    (restored,) = sync.run({"id": "evt", "etag": '"4"'})
    (again,) = sync.run({"id": "evt", "status": "cancelled"})
    assert restored.change == "restored" and not restored.by_me
    assert again.kind is Kind.CALENDAR_DELETED and not again.by_me


def test_a_mark_before_the_sync_saw_the_event_is_no_record_and_becomes_one() -> None:
    store, own = memory()
    sync = Sync(store)
    own.record("uid-1", ["primary"], "new", own_mark('"1"'), NOW)
    document = store.records_of(KEY, ["new"])["new"]
    assert document[MARK_EXPIRY_FIELD] == NOW + OWN_MARK_RETENTION
    assert records_and_marks({"new": document})[0] == {}
    (created,) = sync.run({"id": "new", "etag": '"1"'})
    assert created.change == "created" and created.by_me
    document = store.records_of(KEY, ["new"])["new"]
    assert MARK_EXPIRY_FIELD not in document and MARKS_FIELD not in document


def test_stale_marks_go_with_the_next_record_write() -> None:
    store, own = memory()
    sync = Sync(store)
    sync.run({"id": "evt", "etag": '"1"'})
    old = NOW - OWN_MARK_RETENTION - timedelta(minutes=1)
    own.record("uid-1", ["primary"], "evt", own_mark('"never told"'), old)
    own.record("uid-1", ["primary"], "evt", own_mark('"9"'), NOW)
    sync.run({"id": "evt", "etag": '"2"'})
    marks = store.records_of(KEY, ["evt"])["evt"][MARKS_FIELD]
    assert set(marks) == {own_mark('"9"')}  # the fresh one may still be told


def test_a_write_addressing_the_primary_calendar_by_its_id_is_still_recognised() -> None:
    assert marked_calendars("han.jiwoo@gmail.example") == ["han.jiwoo@gmail.example", "primary"]
    assert marked_calendars("primary") == ["primary"]
    store, own = memory()
    sync = Sync(store)
    service = CalendarService(FakeGoogleCalendar(), own)  # type: ignore[arg-type]
    event = service.create_event("uid-1", "han.jiwoo@gmail.example", BODY, "none", "k").event
    (item,) = sync.run({"id": event.id, "etag": '"1"'})
    assert item.by_me


class NotifyingGoogle(FakeGoogleCalendar):
    """Google that notifies, and a sync pass that reads the change, before it answers us:
    the order Google's push may take, which no mark written after the answer can win."""

    def __init__(self, sync: Sync) -> None:
        super().__init__()
        self.sync = sync
        self.told: list[ActivityItem] = []

    def _tell(self, event: dict[str, Any]) -> None:
        stamped = {**event, "updated": datetime.now(UTC).isoformat()}
        self.told += self.sync.run(stamped)

    def insert_event(self, uid: str, calendar_id: str, body: dict[str, Any], **_: Any) -> Any:
        answer = super().insert_event(uid, calendar_id, body)
        self._tell({"id": answer["id"], "etag": answer["etag"]})
        return answer

    def patch_event(
        self, uid: str, calendar_id: str, event_id: str, body: dict[str, Any], **_: Any
    ) -> Any:
        answer = super().patch_event(uid, calendar_id, event_id, body)
        self._tell({"id": event_id, "etag": answer["etag"]})
        return answer

    def delete_event(self, uid: str, calendar_id: str, event_id: str, **_: Any) -> None:
        self._tell({"id": event_id, "status": "cancelled"})


def test_a_change_the_sync_sees_before_google_answers_us_is_still_by_me() -> None:
    store, own = memory()
    sync = Sync(store, now=datetime.now(UTC))
    google = NotifyingGoogle(sync)
    service = CalendarService(google, own)  # type: ignore[arg-type]
    event = service.create_event("uid-1", "primary", BODY, "none", None).event
    service.patch_event("uid-1", "primary", event.id, EventPatch(summary="Retro"), "none", None)
    service.delete_event("uid-1", "primary", event.id, "none", None)
    assert [(item.change, item.by_me) for item in google.told] == [
        ("created", True),
        ("modified", True),
        ("cancelled", True),
    ]
    # Each intent gave way to its version's mark once Google answered: none stays open.
    marks = store.records_of(KEY, [event.id])[event.id].get(MARKS_FIELD, {})
    assert marks and not any(is_intent(key) for key in marks)


def test_an_intent_covers_only_a_change_made_while_it_is_open() -> None:
    now = datetime.now(UTC)
    store, own = memory()
    sync = Sync(store, now=now)
    sync.run({"id": "evt", "etag": '"1"'})

    def seen(etag: str, updated: datetime) -> bool:
        (item,) = sync.run({"id": "evt", "etag": etag, "updated": updated.isoformat()})
        return item.by_me

    own.record("uid-1", ["primary"], "evt", own_intent(), now)
    # A lagging pass telling someone else's change from before our write: not ours.
    assert not seen('"2"', now - timedelta(minutes=5))
    # Google's clock may read a little behind ours.
    assert seen('"3"', now - OWN_INTENT_CLOCK_SKEW / 2)
    # An intent its writer never closed (it crashed) is believed only within its window,
    # and the next record write after that drops it.
    store2, own2 = memory()
    late = Sync(store2, now=now)
    late.run({"id": "evt", "etag": '"1"'})
    own2.record("uid-1", ["primary"], "evt", own_intent(), now - OWN_INTENT_WINDOW * 2)
    (item,) = late.run({"id": "evt", "etag": '"2"', "updated": now.isoformat()})
    assert not item.by_me
    assert not store2.records_of(KEY, ["evt"])["evt"].get(MARKS_FIELD)


class RefusingGoogle(FakeGoogleCalendar):
    """Answers a patch with one failure status (0: no answer)."""

    def __init__(self, status: int) -> None:
        super().__init__()
        self.status = status

    def patch_event(
        self, uid: str, calendar_id: str, event_id: str, body: dict[str, Any], **_: Any
    ) -> Any:
        raise GoogleFailure(self.status)

    def get_event(self, uid: str, calendar_id: str, event_id: str) -> Any:
        return self._answer(event_id, {})


@pytest.mark.parametrize(
    ("status", "stays_open"), [(404, False), (403, False), (412, True), (503, True), (0, True)]
)
def test_a_refused_write_withdraws_its_intent_and_one_maybe_applied_leaves_it_open(
    status: int, stays_open: bool
) -> None:
    store, own = memory()
    Sync(store).run({"id": "evt", "etag": '"1"'})
    service = CalendarService(RefusingGoogle(status), own)  # type: ignore[arg-type]
    with pytest.raises(AppError):
        service.patch_event("uid-1", "primary", "evt", EventPatch(summary="x"), "none", None)
    marks = store.records_of(KEY, ["evt"])["evt"].get(MARKS_FIELD, {})
    # Google refused (4xx): nothing changed, so nothing may be told as ours. No answer or a
    # 5xx: the write may have happened, so its change is still ours while the intent is open.
    # A 412 may answer the gateway's resend of a write that was applied (test_own_retries).
    assert [is_intent(key) for key in marks] == ([True] if stays_open else [])
