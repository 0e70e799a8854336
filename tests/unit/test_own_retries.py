"""A Calendar write Google applied but whose answer was lost is resent by the gateway
(``call_with_retries`` resends inserts, patches and deletes after a 5xx). The resend meets
the applied state (409, 410, or 412 for a conditional patch) and the user's own change is
still told ``by_me``; so is a recurring event's occurrence deleted with its series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.calendar_models import EventPatch
from shared.errors import AppError
from shared.google_errors import GoogleFailure, call_with_retries
from shared.services.calendar import CalendarService
from tests.unit.test_own_changes import BODY, FakeGoogleCalendar, Sync, memory


class LostAnswerGoogle(FakeGoogleCalendar):
    """Google behind the gateway's retries: the first attempt of each write is applied but
    answered 503 (or its answer is lost); the resend meets the applied state."""

    def __init__(self) -> None:
        super().__init__()
        self.events: dict[str, dict[str, Any]] = {}

    def _retried(self, first: Any, again: Any) -> Any:
        attempts = iter([first, again])
        return call_with_retries(lambda: next(attempts)(), sleep=lambda _: None)

    def insert_event(self, uid: str, calendar_id: str, body: dict[str, Any], **_: Any) -> Any:
        def first() -> Any:
            self.events[body["id"]] = self._answer(body["id"], body)
            raise GoogleFailure(503)

        def again() -> Any:
            raise GoogleFailure(409, "duplicate")

        return self._retried(first, again)

    def get_event(self, uid: str, calendar_id: str, event_id: str) -> Any:
        return self.events[event_id]

    def patch_event(
        self, uid: str, calendar_id: str, event_id: str, body: dict[str, Any], **kw: Any
    ) -> Any:
        def first() -> Any:
            self.events[event_id] = self._answer(event_id, body)
            raise GoogleFailure(503)

        def again() -> Any:
            raise GoogleFailure(412)  # If-Match names the version before our own patch

        return self._retried(first, again)

    def delete_event(self, uid: str, calendar_id: str, event_id: str, **_: Any) -> None:
        def first() -> Any:
            self.events[event_id]["status"] = "cancelled"
            raise GoogleFailure(503)

        def again() -> Any:
            raise GoogleFailure(410, "deleted")

        self._retried(first, again)


def _seen(sync: Sync, event: dict[str, Any]) -> bool:
    stamped = {**event, "updated": datetime.now(UTC).isoformat()}
    (item,) = sync.run(stamped)
    return item.by_me


def test_an_insert_whose_retry_answers_409_is_still_by_me() -> None:
    store, own = memory()
    sync = Sync(store, now=datetime.now(UTC))
    google = LostAnswerGoogle()
    service = CalendarService(google, own)  # type: ignore[arg-type]
    created = service.create_event("uid-1", "primary", BODY, "none", "key-1")
    assert created.created is False  # the service itself calls it a retry of an earlier one
    # Google applied our insert; the pass reads it after the call returned.
    assert _seen(sync, {"id": created.event.id, "etag": '"1"'})


def _known_event() -> tuple[Sync, LostAnswerGoogle, CalendarService]:
    """An event the sync has recorded (version 1), and the service over a lossy Google."""
    store, own = memory()
    sync = Sync(store, now=datetime.now(UTC))
    google = LostAnswerGoogle()
    google.events["evt"] = google._answer("evt", {})
    sync.run({"id": "evt", "etag": '"1"'})
    return sync, google, CalendarService(google, own)  # type: ignore[arg-type]


def test_a_delete_whose_retry_answers_410_is_still_by_me() -> None:
    sync, _google, service = _known_event()
    service.delete_event("uid-1", "primary", "evt", "none", None)  # succeeds (410)
    assert _seen(sync, {"id": "evt", "status": "cancelled"})


def test_a_conditional_patch_whose_retry_answers_412_is_still_by_me() -> None:
    sync, google, service = _known_event()
    with pytest.raises(AppError):
        service.patch_event("uid-1", "primary", "evt", EventPatch(summary="x"), "none", '"1"')
    assert _seen(sync, {"id": "evt", "etag": google.events["evt"]["etag"]})


def test_deleting_a_series_through_our_api_tells_its_recorded_exceptions_as_ours() -> None:
    # Google's incremental list may carry the series' modified occurrences cancelled along
    # with the master; the marks are on the master's record only.
    store, own = memory()
    sync = Sync(store, now=datetime.now(UTC))
    google = FakeGoogleCalendar()
    occurrence = "m1_20260305T010000Z"
    sync.run({"id": "m1", "etag": '"1"', "summary": "Standup"})
    sync.run({"id": occurrence, "etag": '"2"', "recurringEventId": "m1"})
    service = CalendarService(google, own)  # type: ignore[arg-type]
    service.delete_event("uid-1", "primary", "m1", "none", None)
    items = sync.run(
        {"id": "m1", "status": "cancelled"},
        {"id": occurrence, "status": "cancelled", "recurringEventId": "m1"},
    )
    assert [item.by_me for item in items] == [True, True]


def test_the_change_that_made_a_patch_stale_is_still_someone_elses() -> None:
    # A real 412: someone else changed the event before our request. The intent stays open
    # (the 412 may be our own resend's), but that change is older than the intent.
    store, own = memory()
    now = datetime.now(UTC)
    sync = Sync(store, now=now)
    sync.run({"id": "evt", "etag": '"1"'})
    theirs = (now - timedelta(seconds=30)).isoformat()

    class Stale(FakeGoogleCalendar):
        def patch_event(self, *args: Any, **kwargs: Any) -> Any:
            raise GoogleFailure(412)

        def get_event(self, uid: str, calendar_id: str, event_id: str) -> Any:
            return self._answer(event_id, {})

    service = CalendarService(Stale(), own)  # type: ignore[arg-type]
    with pytest.raises(AppError):
        service.patch_event("uid-1", "primary", "evt", EventPatch(summary="x"), "none", '"1"')
    (item,) = sync.run({"id": "evt", "etag": '"2"', "updated": theirs})
    assert not item.by_me
