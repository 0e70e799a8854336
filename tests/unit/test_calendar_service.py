"""Calendar use cases against an in-memory gateway (Google's JSON shapes, GoogleFailure)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared.calendar_models import EventCreate, EventListQuery, EventPatch
from shared.errors import AppError, ErrorCode
from shared.google_errors import GoogleFailure
from shared.services.calendar import CalendarService, StaleVersion, event_id_for_key

BODY = {
    "summary": "Lunch",
    "start": {"date_time": "2030-01-01T12:00:00+09:00", "time_zone": "Asia/Seoul"},
    "end": {"date_time": "2030-01-01T13:00:00+09:00"},
}


class MemoryCalendar:
    """A CalendarGateway holding one user's primary calendar."""

    def __init__(self) -> None:
        self.events: dict[str, dict[str, Any]] = {}
        self.version = 0
        self.sent: list[str] = []

    def _stamp(self, event: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        event["etag"] = f'"{self.version}"'
        return dict(event)

    def list_calendars(self, uid: str, page_token: str | None) -> dict[str, Any]:
        return {"items": [{"id": "me@example.com", "primary": True}]}

    def list_events(self, uid: str, calendar_id: str, params: dict[str, Any]) -> dict[str, Any]:
        return {"items": list(self.events.values()), "params": params}

    def list_instances(
        self, uid: str, calendar_id: str, event_id: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        return {"items": []}

    def get_event(self, uid: str, calendar_id: str, event_id: str) -> dict[str, Any]:
        if event_id not in self.events:
            raise GoogleFailure(404, "notFound")
        return dict(self.events[event_id])

    def insert_event(
        self, uid: str, calendar_id: str, body: dict[str, Any], **options: Any
    ) -> dict[str, Any]:
        if body["id"] in self.events:
            raise GoogleFailure(409, "duplicate")
        self.sent.append(options["send_updates"])
        self.events[body["id"]] = {**body, "status": "confirmed"}
        return self._stamp(self.events[body["id"]])

    def patch_event(
        self, uid: str, calendar_id: str, event_id: str, body: dict[str, Any], **options: Any
    ) -> dict[str, Any]:
        event = self.events[event_id]
        if options["if_match"] and options["if_match"] != event["etag"]:
            raise GoogleFailure(412, "conditionNotMet")
        event.update(body)
        return self._stamp(event)

    def delete_event(self, uid: str, calendar_id: str, event_id: str, **options: Any) -> None:
        event = self.events.get(event_id)
        if event is None:
            raise GoogleFailure(404, "notFound")
        if event["status"] == "cancelled":
            raise GoogleFailure(410, "deleted")
        event["status"] = "cancelled"


@pytest.fixture
def google() -> MemoryCalendar:
    return MemoryCalendar()


@pytest.fixture
def service(google: MemoryCalendar) -> CalendarService:
    return CalendarService(google)


def test_idempotency_key_gives_one_event(service: CalendarService, google: MemoryCalendar) -> None:
    body = EventCreate.model_validate(BODY)
    first = service.create_event("u1", "primary", body, "all", "key-00000001")
    again = service.create_event("u1", "primary", body, "all", "key-00000001")
    assert (first.created, again.created) == (True, False)
    assert first.event.id == again.event.id == event_id_for_key("u1", "primary", "key-00000001")
    assert len(google.events) == 1 and google.sent == ["all"]
    assert event_id_for_key("u2", "primary", "key-00000001") != first.event.id


def test_recreating_a_deleted_id_is_a_conflict(service: CalendarService) -> None:
    body = EventCreate.model_validate({**BODY, "id": "abcdefgh"})
    service.create_event("u1", "primary", body, "none", None)
    service.delete_event("u1", "primary", "abcdefgh", "none", None)
    service.delete_event("u1", "primary", "abcdefgh", "none", None)  # already deleted: fine
    with pytest.raises(AppError) as caught:
        service.create_event("u1", "primary", body, "none", None)
    assert caught.value.code is ErrorCode.CONFLICT
    with pytest.raises(AppError) as missing:
        service.get_event("u1", "primary", "abcdefgh")
    assert missing.value.code is ErrorCode.NOT_FOUND


def test_stale_if_match_carries_the_current_event(service: CalendarService) -> None:
    created = service.create_event(
        "u1", "primary", EventCreate.model_validate(BODY), "none", None
    ).event
    patch = EventPatch.model_validate({"summary": "Dinner"})
    service.patch_event("u1", "primary", created.id, patch, "none", created.etag)
    with pytest.raises(StaleVersion) as caught:
        service.patch_event("u1", "primary", created.id, patch, "none", created.etag)
    body = caught.value.to_body()
    assert caught.value.status == 412
    assert body["current"]["summary"] == "Dinner"  # type: ignore[index]


def test_page_size_is_clamped() -> None:
    query = EventListQuery.model_validate(
        {
            "page_size": "1000",
            "order_by": "start_time",
            "q": "x",
            "time_min": "2030-01-01T00:00:00Z",
        }
    )
    assert query.page_size == 250
    assert EventListQuery.model_validate({"page_size": "-3"}).page_size == 1


@pytest.mark.parametrize(
    "body",
    [
        {**BODY, "end": {"date": "2030-01-02"}},
        {**BODY, "end": {"date_time": "2030-01-01T11:00:00+09:00"}},
        {**BODY, "start": {"date_time": "2030-01-01T12:00:00"}},
        {**BODY, "start": {"date_time": 1893456000}},
        {**BODY, "start": {"date_time": "2030-01-01T12:00:00Z", "time_zone": "../../etc/passwd"}},
        {**BODY, "start": {"date": "2030-01-01", "time_zone": "Asia/Seoul"}},
        {
            **BODY,
            "reminders": {"use_default": True, "overrides": [{"method": "popup", "minutes": 1}]},
        },
        {**BODY, "attendees": [{"email": "a@b.co", "role": "x"}]},
        {**BODY, "start": {"date_time": "9999-01-01T12:00:00Z"}},
    ],
)
def test_invalid_bodies(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        EventCreate.model_validate(body)
