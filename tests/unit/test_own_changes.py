"""One's own actions: Drive's lastModifyingUser.me and our own Calendar writes mark feed
items ``by_me``; with fakes of our own ports."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from shared.activity import ActivityItem, Kind
from shared.calendar_models import EventCreate, EventPatch
from shared.ports.sync import CursorState, SourceKind, SyncBatch, SyncKey
from shared.services.calendar import CalendarService
from shared.services.own_changes import MarkOwnChanges, calendar_item_ids
from shared.sources.calendar import EventRecord, incremental_pass
from shared.sources.drive import drive_items

NOW = datetime(2026, 3, 4, 3, 0, tzinfo=UTC)
KEY = SyncKey("uid-1", SourceKind.CALENDAR, "primary")


def calendar_item(key: SyncKey, event: dict[str, Any], kind: Kind, now: datetime) -> ActivityItem:
    """The item a sync pass tells for this event: a change, or the deletion of a known one."""
    if kind is Kind.CALENDAR_DELETED:
        known = {event["id"]: EventRecord('"0"', title="Design review")}
        (item,) = incremental_pass(key, [{**event, "status": "cancelled"}], known, now).items
    else:
        (item,) = incremental_pass(key, [event], {}, now).items
    return item


class FakeOwnChanges:
    def __init__(self) -> None:
        self.ids: set[str] = set()

    def record(self, uid: str, item_ids: Iterable[str], now: datetime) -> None:
        self.ids.update(f"{uid}/{item}" for item in item_ids)

    def known(self, uid: str, item_ids: Iterable[str]) -> set[str]:
        return {item for item in item_ids if f"{uid}/{item}" in self.ids}


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


class FixedSource:
    def __init__(self, events: list[tuple[dict[str, Any], Kind]]) -> None:
        self.events = events

    def fetch(self, key: SyncKey, state: CursorState, now: datetime) -> SyncBatch:
        items = [calendar_item(key, event, kind, now) for event, kind in self.events]
        return SyncBatch(items, "next-token")


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
    own = FakeOwnChanges()
    service = CalendarService(FakeGoogleCalendar(), own)  # type: ignore[arg-type]
    body = EventCreate.model_validate(
        {
            "summary": "Design review",
            "start": {"date_time": "2026-03-05T10:00:00+09:00"},
            "end": {"date_time": "2026-03-05T11:00:00+09:00"},
        }
    )
    event = service.create_event("uid-1", "primary", body, "none", "key-1").event
    patched = service.patch_event(
        "uid-1", "primary", event.id, EventPatch(summary="Retro"), "none", None
    )
    service.delete_event("uid-1", "primary", event.id, "none", None)

    source = FixedSource(
        [
            ({"id": event.id, "etag": '"1"'}, Kind.CALENDAR_CHANGED),  # our insert
            ({"id": event.id, "etag": '"2"'}, Kind.CALENDAR_CHANGED),  # our patch
            ({"id": event.id, "etag": '"3"'}, Kind.CALENDAR_CHANGED),  # someone else's edit
            ({"id": event.id}, Kind.CALENDAR_DELETED),  # our delete
            ({"id": "other", "etag": '"1"'}, Kind.CALENDAR_CHANGED),  # another event
        ]
    )
    batch = MarkOwnChanges(source, own).fetch(KEY, CursorState("token"), NOW)
    assert [item.by_me for item in batch.items] == [True, True, False, True, False]
    assert patched.summary == "Retro" and batch.cursor == "next-token"
    # Another user's sync never sees this user's writes as theirs.
    other = MarkOwnChanges(source, own).fetch(
        SyncKey("uid-2", SourceKind.CALENDAR, "primary"), CursorState("token"), NOW
    )
    assert not any(item.by_me for item in other.items)


def test_a_write_addressing_the_primary_calendar_by_its_id_is_still_recognised() -> None:
    ids = calendar_item_ids("han.jiwoo@gmail.example", "evt1", '"7"')
    item = calendar_item(KEY, {"id": "evt1", "etag": '"7"'}, Kind.CALENDAR_CHANGED, NOW)
    assert item.id in ids and len(ids) == 2
    assert calendar_item_ids("primary", "evt1", '"7"') == [item.id]
