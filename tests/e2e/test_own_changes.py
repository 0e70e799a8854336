"""One's own actions are in the feed (``by_me``) but buzz no phone unless the user asks.

Drive tells us through ``lastModifyingUser.me``; for Calendar, writes made through our own
calendar API are recognised by the version Google answered. The push of an own change is
data-only (the app refreshes its feed silently); ``notify_own_changes`` shows it again.
"""

from __future__ import annotations

from typing import Any

import requests

from devstack.drivers.calendar import CalendarApi, timed
from devstack.drivers.linking import api
from devstack.drivers.pubsub import eventually, wait_len
from devstack.drivers.push import FakeFcm, device_body, new_token, put_device
from devstack.drivers.watch import calendar_change, drive_file, feed
from tests.e2e.conftest import LinkedUser, RunningStack


def _phone(stack: RunningStack, user: LinkedUser) -> str:
    token = new_token(stack.seen)
    account = stack.function_url("account_api")
    assert put_device(account, user.auth, "phone-0001", device_body(token)).status_code == 201
    return token


def _feed(stack: RunningStack, user: LinkedUser) -> list[dict[str, Any]]:
    return feed(stack.function_url("account_api"), user.auth)


def _notify_own_changes(stack: RunningStack, user: LinkedUser) -> None:
    response = requests.put(
        f"{stack.function_url('account_api')}/v1/preferences",
        json={"notify_own_changes": True},
        headers={"Authorization": f"Bearer {user.auth.id_token}"},
        timeout=20,
    )
    assert response.status_code == 200, response.text


def _pushed_file(stack: RunningStack, user: LinkedUser, token: str) -> dict[str, Any]:
    """Create a Drive file as the user; the one message the phone got for its feed item."""
    drive_file(stack.urls.fake_google, sub=user.google["sub"], name="Budget.xlsx")
    (item,) = eventually(lambda: _feed(stack, user), timeout=60)
    fcm = FakeFcm(stack.urls.fake_google)
    (message,) = eventually(lambda: fcm.messages(token), timeout=60)
    assert message["message"]["data"]["item_id"] == item["id"]
    return {"item": item, "message": message["message"]}


def test_a_drive_file_made_by_the_user_is_by_me_and_shows_no_notification(
    stack: RunningStack, linked: LinkedUser
) -> None:
    token = _phone(stack, linked)
    pushed = _pushed_file(stack, linked, token)
    assert pushed["item"]["kind"] == "drive.created" and pushed["item"]["by_me"] is True
    message = pushed["message"]
    assert "notification" not in message  # data-only: the app refreshes silently
    assert message["apns"]["headers"]["apns-push-type"] == "background"
    # What the app needs to drop a duplicate is there even in a data-only push.
    assert message["apns"]["headers"]["apns-collapse-id"] == message["android"]["collapse_key"]


def test_with_notify_own_changes_the_users_own_file_is_shown(
    stack: RunningStack, linked: LinkedUser
) -> None:
    token = _phone(stack, linked)
    _notify_own_changes(stack, linked)
    pushed = _pushed_file(stack, linked, token)
    assert pushed["item"]["by_me"] is True
    message = pushed["message"]
    assert message["notification"]["title"] == "새 파일"
    assert message["android"]["notification"]["tag"] == message["android"]["collapse_key"]
    assert message["apns"]["headers"]["apns-push-type"] == "alert"


def test_someone_elses_drive_change_is_not_by_me(stack: RunningStack, linked: LinkedUser) -> None:
    token = _phone(stack, linked)
    drive_file(stack.urls.fake_google, sub=linked.google["sub"], name="Plan.docx", actor="Kim")
    (item,) = eventually(lambda: _feed(stack, linked), timeout=60)
    assert item["by_me"] is False
    fcm = FakeFcm(stack.urls.fake_google)
    (message,) = eventually(lambda: fcm.messages(token), timeout=60)
    assert message["message"]["notification"]["body"] == "Kim: Plan.docx"


def test_calendar_writes_through_our_api_are_by_me(stack: RunningStack, linked: LinkedUser) -> None:
    calendar = CalendarApi(stack.function_url("calendar_api"), linked.auth)
    created = calendar.call(
        "POST",
        "/v1/calendars/primary/events",
        json=timed("2026-12-01T10:00:00+09:00", "2026-12-01T11:00:00+09:00", summary="Mine"),
    )
    assert created.status_code == 201, created.text
    event_id = created.json()["id"]
    eventually(lambda: len(_feed(stack, linked)) == 1, timeout=60)
    patched = calendar.call(
        "PATCH", f"/v1/calendars/primary/events/{event_id}", json={"summary": "Mine, moved"}
    )
    assert patched.status_code == 200, patched.text
    eventually(lambda: len(_feed(stack, linked)) == 2, timeout=60)
    # The same event changed from another device: not by me.
    calendar_change(
        stack.urls.fake_google,
        linked.google["sub"],
        "patch",
        eventId=event_id,
        event={"summary": "Theirs"},
    )
    eventually(lambda: len(_feed(stack, linked)) == 3, timeout=60)
    deleted = calendar.call("DELETE", f"/v1/calendars/primary/events/{event_id}")
    assert deleted.status_code == 204
    items = wait_len(lambda: _feed(stack, linked), 4, timeout=60)
    mine = [(item["kind"], item.get("title"), item["by_me"]) for item in reversed(items)]
    assert mine == [
        ("calendar.changed", "Mine", True),
        ("calendar.changed", "Mine, moved", True),
        ("calendar.changed", "Theirs", False),
        ("calendar.deleted", "Theirs", True),  # a deletion keeps the title last seen
    ]


def test_a_mark_written_after_the_sync_read_survives_both_commit_paths(
    stack: RunningStack, linked: LinkedUser
) -> None:
    """The race, ordered by hand on the real Firestore adapters and emulator: the user's own
    write is marked after a pass read the event's record; the pass's record write (the
    unread conditional batch, then the transaction fallback) keeps that mark, the next pass
    tells the version as ``by_me`` and drops it; someone else's later version is not ours;
    erasing the account leaves no mark, not even a mark-only one under no cursor."""
    from datetime import UTC, datetime, timedelta

    from shared.adapters.own_marks import FirestoreOwnMarks
    from shared.adapters.sync_store import FirestoreSyncStore
    from shared.ports.sync import CursorState, IndexWrite, RequestResult, SourceKind, SyncKey
    from shared.services.own_changes import marked_calendars
    from shared.sources.calendar import (
        MARK_EXPIRY_FIELD,
        MARKS_FIELD,
        EventRecord,
        incremental_pass,
        own_mark,
        records_and_marks,
    )

    store = FirestoreSyncStore(stack.db)
    marks = FirestoreOwnMarks(stack.db, store)
    key = SyncKey(linked.uid, SourceKind.CALENDAR, "race-calendar@group.example")
    now = datetime.now(UTC)
    first = IndexWrite("evt", EventRecord('"1"', title="Standup").to_dict())
    store.save_cursor(key, CursorState("t1", records=[first]), now)

    def read(*events: dict[str, Any]) -> tuple[list[Any], list[IndexWrite]]:
        known, own = records_and_marks(store.records_of(key, [e["id"] for e in events]))
        result = incremental_pass(key, list(events), known, now, own)
        return result.items, result.writes

    def document(event_id: str) -> dict[str, Any]:
        return store.record_ref(key, event_id).get().to_dict() or {}

    # Pass 1 (unread batch): reads, then our patch to version 3 is marked, then it commits
    # someone else's version 2.
    result, state = store.request(key, "owner-1", now, timedelta(minutes=1), None)
    assert result is RequestResult.RUN and state is not None and state.version is not None
    items, writes = read({"id": "evt", "etag": '"2"'})
    marks.record(linked.uid, marked_calendars(key.calendar_id), "evt", own_mark('"3"'), now)
    jobs, after = store.commit_last(key, state, items, CursorState("t2"), now, writes)
    assert jobs is not None and after is not None and after.version is not None  # no fallback
    assert [item.by_me for item in items] == [False]
    stored = document("evt")
    assert stored["etag"] == '"2"' and set(stored[MARKS_FIELD]) == {own_mark('"3"')}
    assert MARK_EXPIRY_FIELD not in stored

    # Pass 2 (transaction): a mark written after its read survives too.
    items, writes = read({"id": "evt", "etag": '"3"'})
    marks.record(linked.uid, [key.calendar_id], "evt", own_mark('"5"'), now)
    assert store.commit(key, CursorState("t2"), items, CursorState("t3"), now, writes) is not None
    assert [item.by_me for item in items] == [True]  # the mark of pass 1's race matched
    assert set(document("evt")[MARKS_FIELD]) == {own_mark('"5"')}  # 3 consumed, 5 kept

    # Someone else's version 4 is not ours, whatever marks the record holds.
    items, _ = read({"id": "evt", "etag": '"4"'})
    assert [item.by_me for item in items] == [False]

    # A write before the sync saw the event: a mark-only document with a TTL, which the
    # sync's first record write turns into a record (TTL removed, mark consumed).
    marks.record(linked.uid, [key.calendar_id], "new", own_mark('"1"'), now)
    assert set(document("new")) == {"id", MARKS_FIELD, MARK_EXPIRY_FIELD}
    items, writes = read({"id": "new", "etag": '"1"'})
    assert [(item.change, item.by_me) for item in items] == [("created", True)]
    assert store.commit(key, CursorState("t3"), items, CursorState("t4"), now, writes) is not None
    made = document("new")
    assert not made.pop(MARKS_FIELD)  # Firestore keeps the emptied map
    assert set(made) == {"id", *EventRecord('"1"').to_dict()}

    # The other spelling ("primary") of a write to this calendar is a mark-only document;
    # erasing the account deletes it with the rest.
    primary = store.record_ref(SyncKey(linked.uid, SourceKind.CALENDAR, "primary"), "evt")
    assert primary.get().exists
    account = stack.function_url("account_api")
    assert api(account, "DELETE", "/v1/me", linked.auth).status_code == 204
    left = [doc.reference.path for doc in stack.db.collection_group("events").stream()]
    assert [path for path in left if linked.uid in path] == []


def test_an_intent_on_the_real_adapter_is_ours_before_google_answers_and_gives_way_to_the_mark(
    stack: RunningStack, linked: LinkedUser
) -> None:
    """The intent's life on the real Firestore adapters and emulator: written before the
    call (a mark-only document for a new event), believed by a pass that commits the change
    before Google's answer reaches us, then replaced by the version's mark in one write to
    every spelling of the calendar; a withdrawal where no document exists is no error."""
    from datetime import UTC, datetime

    from shared.adapters.own_marks import FirestoreOwnMarks
    from shared.adapters.sync_store import FirestoreSyncStore
    from shared.ports.sync import CursorState, SourceKind, SyncKey
    from shared.services.own_changes import marked_calendars
    from shared.sources.calendar import (
        MARK_EXPIRY_FIELD,
        MARKS_FIELD,
        incremental_pass,
        own_intent,
        own_mark,
        records_and_marks,
    )

    store = FirestoreSyncStore(stack.db)
    marks = FirestoreOwnMarks(stack.db, store)
    calendar = "team@group.example"
    key = SyncKey(linked.uid, SourceKind.CALENDAR, calendar)
    primary = SyncKey(linked.uid, SourceKind.CALENDAR, "primary")
    now = datetime.now(UTC)
    store.save_cursor(key, CursorState("t1"), now)

    intent = own_intent()
    marks.record(linked.uid, marked_calendars(calendar), "new", intent, now)
    for spelling in (key, primary):
        stored = store.record_ref(spelling, "new").get().to_dict() or {}
        assert set(stored) == {"id", MARKS_FIELD, MARK_EXPIRY_FIELD}
        assert set(stored[MARKS_FIELD]) == {intent}

    # Google notified before it answered us: the pass commits our new event first.
    event = {"id": "new", "etag": '"1"', "updated": datetime.now(UTC).isoformat()}
    known, own = records_and_marks(store.records_of(key, ["new"]))
    result = incremental_pass(key, [event], known, datetime.now(UTC), own)
    assert [(item.change, item.by_me) for item in result.items] == [("created", True)]
    assert store.commit(key, CursorState("t1"), result.items, CursorState("t2"), now, result.writes)
    recorded = store.record_ref(key, "new").get().to_dict() or {}
    assert MARK_EXPIRY_FIELD not in recorded and set(recorded[MARKS_FIELD]) == {intent}

    # Google's answer: the version's mark takes the intent's place under both spellings.
    marks.record(
        linked.uid, marked_calendars(calendar), "new", own_mark('"1"'), now, replacing=intent
    )
    for spelling in (key, primary):
        stored = store.record_ref(spelling, "new").get().to_dict() or {}
        assert set(stored[MARKS_FIELD]) == {own_mark('"1"')}
    assert "etag" in (store.record_ref(key, "new").get().to_dict() or {})  # the record kept

    marks.withdraw(linked.uid, marked_calendars(calendar), "never-written", own_intent())
    assert not store.record_ref(key, "never-written").get().exists
