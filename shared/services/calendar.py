"""Calendar use cases: list, get, create (idempotent), patch and delete events of a user.

Free of I/O: Google is behind the ``CalendarGateway`` port, which speaks Google's own JSON
shapes and raises ``GoogleFailure``. Here the app's models become Google's and back, and the
failures that mean something for a use case (duplicate id, stale etag, already deleted) are
handled before the generic table in ``shared.google_errors`` maps the rest.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from shared.calendar_models import (
    Calendar,
    CalendarList,
    Event,
    EventCreate,
    EventFields,
    EventListQuery,
    EventPage,
    EventPatch,
    EventTimeIn,
    InstancesQuery,
    SendUpdates,
)
from shared.errors import AppError, ErrorCode
from shared.google_errors import GoogleFailure, to_app_error
from shared.logs import get_logger
from shared.services.own_changes import (
    DELETED,
    OwnChangeStore,
    marked_calendars,
    own_intent,
    own_mark,
)

log = get_logger(__name__)
M = TypeVar("M", bound=BaseModel)

# A user has few calendars; the bound keeps one request's Google calls finite.
MAX_CALENDAR_PAGES = 10


class CalendarGateway(Protocol):
    """Port: Calendar v3 on behalf of one of our users (Google's JSON in and out)."""

    def list_calendars(self, uid: str, page_token: str | None) -> dict[str, Any]: ...

    def list_events(self, uid: str, calendar_id: str, params: dict[str, Any]) -> dict[str, Any]: ...

    def list_instances(
        self, uid: str, calendar_id: str, event_id: str, params: dict[str, Any]
    ) -> dict[str, Any]: ...

    def get_event(self, uid: str, calendar_id: str, event_id: str) -> dict[str, Any]: ...

    def insert_event(
        self,
        uid: str,
        calendar_id: str,
        body: dict[str, Any],
        *,
        send_updates: SendUpdates,
        conference: bool,
    ) -> dict[str, Any]: ...

    def patch_event(
        self,
        uid: str,
        calendar_id: str,
        event_id: str,
        body: dict[str, Any],
        *,
        send_updates: SendUpdates,
        if_match: str | None,
    ) -> dict[str, Any]: ...

    def delete_event(
        self,
        uid: str,
        calendar_id: str,
        event_id: str,
        *,
        send_updates: SendUpdates,
        if_match: str | None,
    ) -> None: ...


class StaleVersion(AppError):
    """412 whose body also carries the event's current version, so the app can merge."""

    def __init__(self, current: Event | None) -> None:
        super().__init__(ErrorCode.PRECONDITION_FAILED, "The event changed since you read it.")
        self.current = current

    def to_body(self) -> dict[str, object]:
        """The error body plus ``current`` (the event as it is now)."""
        body = super().to_body()
        if self.current is not None:
            body["current"] = self.current.model_dump(mode="json", exclude_none=True)
        return body


@dataclass(frozen=True)
class Created:
    """The result of a create: the event, and whether this call made it (else a retry)."""

    event: Event
    created: bool


def event_id_for_key(uid: str, calendar_id: str, key: str) -> str:
    """The deterministic Google event id of a create with this Idempotency-Key."""
    digest = hashlib.sha256(f"{uid}\x00{calendar_id}\x00{key}".encode()).digest()
    return base64.b32hexencode(digest).decode().rstrip("=").lower()


def _new_event_id() -> str:
    return base64.b32hexencode(secrets.token_bytes(20)).decode().rstrip("=").lower()


@dataclass
class _OwnWrite:
    """A write of the user's own in flight: the version Google answered (an etag, or
    ``DELETED``), once it has; "" is an answer without an etag."""

    version: str | None = DELETED
    answered: bool = False

    def answer(self, version: str | None) -> None:
        """Google applied the write; ``version`` is what the sync will see."""
        self.version, self.answered = version, True


class CalendarService:
    """The Calendar API's use cases for the authenticated user."""

    def __init__(self, google: CalendarGateway, own_changes: OwnChangeStore | None = None) -> None:
        self._google = google
        self._own_changes = own_changes

    @contextmanager
    def _own_write(self, uid: str, calendar_id: str, event_id: str) -> Iterator[_OwnWrite]:
        """Mark the Google write in the ``with`` block as the user's own, so its sync item is
        ``by_me`` (``shared.services.own_changes``): an intent before the block; after it,
        the version the block ``answered`` in the intent's place. A block that ends without
        an answer, or with a 4xx (Google refused: nothing changed), withdraws the intent.
        The write may have happened on a timeout or 5xx, and on a 412: the gateway resends
        after a 5xx (``call_with_retries``), and a resend whose first attempt was applied
        finds the etag moved by our own write. Those leave the intent open until its window
        closes (the change that made the etag stale is older than the intent, so the pass's
        ``updated`` check still tells it as someone else's). A failure to write the mark
        after Google answered is logged, not raised: the write is done, and the open intent
        still covers it for its window."""
        write = _OwnWrite()
        if self._own_changes is None:
            yield write
            return
        store, calendars, intent = self._own_changes, marked_calendars(calendar_id), own_intent()
        store.record(uid, calendars, event_id, intent, datetime.now(UTC))
        try:
            yield write
        except AppError as error:
            if error.status < 500 and error.code is not ErrorCode.PRECONDITION_FAILED:
                self._withdraw(uid, calendars, event_id, intent)
            raise
        if not write.answered or write.version == "":
            self._withdraw(uid, calendars, event_id, intent)
            return
        mark = own_mark(write.version)
        try:
            store.record(uid, calendars, event_id, mark, datetime.now(UTC), replacing=intent)
        except Exception:
            log.warning("own write not marked; its intent stays open", exc_info=True)

    def _withdraw(self, uid: str, calendars: list[str], event_id: str, intent: str) -> None:
        """Withdraw an intent; one that cannot be is harmless once its window closes, so a
        failure here never hides the answer the caller is getting."""
        assert self._own_changes is not None
        try:
            self._own_changes.withdraw(uid, calendars, event_id, intent)
        except Exception:
            log.warning("own intent not withdrawn", exc_info=True)

    def list_calendars(self, uid: str) -> CalendarList:
        """Every calendar in the user's list."""
        items: list[Calendar] = []
        token: str | None = None
        for _ in range(MAX_CALENDAR_PAGES):
            page = _call(functools.partial(self._google.list_calendars, uid, token))
            found = map(calendar_from_google, _list(page.get("items")))
            items += [calendar for calendar in found if calendar is not None]
            token = page.get("nextPageToken")
            if not token:
                break
        return CalendarList(items=items)

    def list_events(self, uid: str, calendar_id: str, query: EventListQuery) -> EventPage:
        """One page of events in a time range, expanded or as recurring masters."""
        params: dict[str, Any] = {
            "maxResults": query.page_size,
            "singleEvents": query.single_events,
            "showDeleted": query.show_deleted,
        }
        optional = {
            "timeMin": query.time_min.isoformat() if query.time_min else None,
            "timeMax": query.time_max.isoformat() if query.time_max else None,
            "updatedMin": query.updated_min.isoformat() if query.updated_min else None,
            "pageToken": query.page_token,
            "q": query.q,
            "orderBy": {"start_time": "startTime", "updated": "updated"}.get(query.order_by or ""),
        }
        params.update({k: v for k, v in optional.items() if v is not None})
        page = _call(lambda: self._google.list_events(uid, calendar_id, params))
        return _page(page)

    def list_instances(
        self, uid: str, calendar_id: str, event_id: str, query: InstancesQuery
    ) -> EventPage:
        """One page of the instances of a recurring event."""
        params: dict[str, Any] = {"maxResults": query.page_size}
        if query.time_min:
            params["timeMin"] = query.time_min.isoformat()
        if query.time_max:
            params["timeMax"] = query.time_max.isoformat()
        if query.page_token:
            params["pageToken"] = query.page_token
        page = _call(lambda: self._google.list_instances(uid, calendar_id, event_id, params))
        return _page(page)

    def get_event(self, uid: str, calendar_id: str, event_id: str) -> Event:
        """One event; a deleted one is not found."""
        event = _event(_call(lambda: self._google.get_event(uid, calendar_id, event_id)))
        if event.status == "cancelled":
            raise AppError(ErrorCode.NOT_FOUND, "No such event.")
        return event

    def create_event(
        self,
        uid: str,
        calendar_id: str,
        body: EventCreate,
        send_updates: SendUpdates,
        idempotency_key: str | None,
    ) -> Created:
        """Create, with an id fixed before the first attempt: a retry never makes two events."""
        if body.id:
            event_id = body.id
        elif idempotency_key:
            event_id = event_id_for_key(uid, calendar_id, idempotency_key)
        else:
            event_id = _new_event_id()
        resource = {**fields_to_google(body, body.model_fields_set), "id": event_id}
        resource["start"] = time_to_google(body.start)
        resource["end"] = time_to_google(body.end)
        if body.add_conference:
            resource["conferenceData"] = {
                "createRequest": {
                    "requestId": event_id,
                    "conferenceSolutionKey": {"type": "hangoutsMeet"},
                }
            }
        with self._own_write(uid, calendar_id, event_id) as own:
            try:
                created = self._google.insert_event(
                    uid,
                    calendar_id,
                    resource,
                    send_updates=send_updates,
                    conference=body.add_conference,
                )
            except GoogleFailure as failure:
                if failure.status != 409:
                    raise to_app_error(failure) from None
            else:
                own.answer(str(created.get("etag") or ""))
                return Created(_event(created), created=True)
            # The id exists: an earlier attempt made it (ours, the client's retry, or the
            # gateway's resend of this one). The id is ours, so its version is the user's own.
            existing = _event(_call(lambda: self._google.get_event(uid, calendar_id, event_id)))
            if existing.status == "cancelled":
                raise AppError(ErrorCode.CONFLICT, "An event with this id was deleted.")
            own.answer(existing.etag or "")
            return Created(existing, created=False)

    def patch_event(
        self,
        uid: str,
        calendar_id: str,
        event_id: str,
        body: EventPatch,
        send_updates: SendUpdates,
        if_match: str | None,
    ) -> Event:
        """Change only the given fields; a stale ``if_match`` answers 412 with the current one."""
        resource = fields_to_google(body, body.model_fields_set)
        if body.start is not None and body.end is not None:
            resource["start"] = time_to_google(body.start)
            resource["end"] = time_to_google(body.end)
        with self._own_write(uid, calendar_id, event_id) as own:
            try:
                patched = self._google.patch_event(
                    uid,
                    calendar_id,
                    event_id,
                    resource,
                    send_updates=send_updates,
                    if_match=if_match,
                )
            except GoogleFailure as failure:
                raise self._failure(failure, uid, calendar_id, event_id) from None
            own.answer(str(patched.get("etag") or ""))
        return _event(patched)

    def delete_event(
        self,
        uid: str,
        calendar_id: str,
        event_id: str,
        send_updates: SendUpdates,
        if_match: str | None,
    ) -> None:
        """Delete; an event that is already deleted counts as success."""
        with self._own_write(uid, calendar_id, event_id) as own:
            try:
                self._google.delete_event(
                    uid, calendar_id, event_id, send_updates=send_updates, if_match=if_match
                )
            except GoogleFailure as failure:
                if failure.status != 410:
                    raise self._failure(failure, uid, calendar_id, event_id) from None
                # Already deleted: possibly by this very call (the gateway resends after a
                # 5xx), and deleted is what the user asked for, so the deletion is theirs.
            own.answer(DELETED)

    def _failure(
        self, failure: GoogleFailure, uid: str, calendar_id: str, event_id: str
    ) -> AppError:
        if failure.status != 412:
            return to_app_error(failure)
        try:
            current = _event(self._google.get_event(uid, calendar_id, event_id))
        except (GoogleFailure, AppError):
            current = None
        return StaleVersion(current)


def _call(action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        result: dict[str, Any] = action()
    except GoogleFailure as failure:
        raise to_app_error(failure) from None
    return result


def _page(page: dict[str, Any]) -> EventPage:
    items: list[Event] = []
    dropped = skipped = 0
    for resource in _list(page.get("items")):
        try:
            event, count = event_with_drops(resource)
        except ValueError:
            skipped += 1  # no usable id: the app could not address it anyway
            continue
        items.append(event)
        dropped += count
    _report_drops(dropped, skipped)
    token, zone = page.get("nextPageToken"), page.get("timeZone")
    return EventPage(
        items=items,
        next_page_token=token if isinstance(token, str) and token else None,
        time_zone=zone if isinstance(zone, str) else None,
    )


def _report_drops(dropped: int, skipped: int) -> None:
    """Count (never show) what a Google response held that our models could not."""
    if dropped or skipped:
        log.info(
            "calendar response values dropped",
            extra={"dropped_values": dropped, "skipped_events": skipped},
        )


def _event(resource: dict[str, Any]) -> Event:
    """One event of a get/insert/patch answer, tolerantly; 503 when it has no usable id."""
    try:
        event, dropped = event_with_drops(resource)
    except ValueError:
        raise AppError(ErrorCode.GOOGLE_UNAVAILABLE, "Google answered an unusable event.") from None
    _report_drops(dropped, 0)
    return event


# Mapping between the app's models and Google's JSON


def time_to_google(value: EventTimeIn) -> dict[str, Any]:
    """An EventTimeIn as Google's EventDateTime."""
    if value.date is not None:
        return {"date": value.date.isoformat()}
    assert value.date_time is not None
    result: dict[str, Any] = {"dateTime": value.date_time.isoformat()}
    if value.time_zone:
        result["timeZone"] = value.time_zone
    return result


def fields_to_google(body: EventFields, given: set[str]) -> dict[str, Any]:
    """The shared event fields the client gave, in Google's names (None clears)."""
    result: dict[str, Any] = {}
    for name in ("summary", "description", "location", "visibility", "transparency", "status"):
        if name in given:
            result[name] = getattr(body, name)
    if "recurrence" in given:
        result["recurrence"] = body.recurrence
    if "color_id" in given:
        result["colorId"] = body.color_id
    if "attendees" in given and body.attendees is not None:
        result["attendees"] = [
            {
                "email": a.email,
                **({"displayName": a.display_name} if a.display_name else {}),
                **({"optional": True} if a.optional else {}),
            }
            for a in body.attendees
        ]
    if "reminders" in given and body.reminders is not None:
        result["reminders"] = {
            "useDefault": body.reminders.use_default,
            "overrides": [o.model_dump() for o in body.reminders.overrides],
        }
    return result


def _time(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    return {
        "date": value.get("date"),
        "date_time": value.get("dateTime"),
        "time_zone": value.get("timeZone"),
    }


def _attendee(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict) or not value.get("email"):
        return None  # Google may list a guest without an email (e.g. a resource or a group)
    return {
        "email": value.get("email"),
        "display_name": value.get("displayName"),
        "optional": value.get("optional"),
        "organizer": value.get("organizer"),
        "response_status": value.get("responseStatus"),
    }


def _reminders(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    overrides = value.get("overrides")
    return {
        "use_default": value.get("useDefault") is True,
        "overrides": overrides if isinstance(overrides, list) else [],
    }


def tolerant(model: type[M], candidate: dict[str, Any]) -> tuple[M, int]:
    """``model`` from ``candidate``, dropping whatever it cannot hold; (model, values dropped).

    A field whose value fails validation is removed (its default applies: absent or null);
    a failing element of a list is removed from the list. Unknown fields were never copied.
    Raises ``ValueError`` only when a required field is what failed.
    """
    data = dict(candidate)
    dropped = 0
    for _ in range(64):  # each round drops at least one value; the bound is a safety net
        try:
            return model.model_validate(data), dropped
        except ValidationError as error:
            removed = False
            for problem in error.errors():
                removed |= _drop(data, problem["loc"])
            if not removed:
                raise ValueError("a required field is unusable") from None
            dropped += 1
    raise ValueError("too many unusable fields")


def _drop(data: dict[str, Any], loc: tuple[int | str, ...]) -> bool:
    """Remove the value at ``loc``: a list element when the path goes through a list, else
    the top-level field. False when that field is required."""
    name = loc[0] if loc else None
    if not isinstance(name, str) or name not in data:
        return False
    if name in _REQUIRED:
        return False
    value = data[name]
    if isinstance(value, list) and len(loc) > 1 and isinstance(loc[1], int) and loc[1] < len(value):
        data[name] = [item for number, item in enumerate(value) if number != loc[1]]
        return True
    if isinstance(value, dict) and len(loc) > 1 and isinstance(loc[1], str) and loc[1] in value:
        nested = dict(value)
        del nested[loc[1]]
        data[name] = nested
        return True
    del data[name]
    return True


_REQUIRED = frozenset({"id", "status"})  # events and calendars need their id


def event_from_google(resource: dict[str, Any]) -> Event:
    """A Google event resource as the app's Event (values it cannot hold are dropped)."""
    return event_with_drops(resource)[0]


def event_with_drops(resource: Any) -> tuple[Event, int]:
    """A Google event resource as the app's Event, and how many values were dropped.

    Raises ``ValueError`` when the resource has no usable id.
    """
    if not isinstance(resource, dict):
        raise ValueError("not an event")
    start = _time(resource.get("start"))
    organizer = resource.get("organizer")
    status = resource.get("status")
    candidate = {
        "id": resource.get("id"),
        "status": status if isinstance(status, str) and status else "confirmed",
        "etag": resource.get("etag"),
        "summary": resource.get("summary"),
        "description": resource.get("description"),
        "location": resource.get("location"),
        "start": start,
        "end": _time(resource.get("end")),
        "recurrence": resource.get("recurrence"),
        "recurring_event_id": resource.get("recurringEventId"),
        "original_start_time": _time(resource.get("originalStartTime")),
        "attendees": [
            found for found in map(_attendee, _list(resource.get("attendees"))) if found is not None
        ],
        "reminders": _reminders(resource.get("reminders")),
        "visibility": resource.get("visibility"),
        "transparency": resource.get("transparency"),
        "color_id": resource.get("colorId"),
        "organizer_email": organizer.get("email") if isinstance(organizer, dict) else None,
        "html_link": resource.get("htmlLink"),
        "hangout_link": resource.get("hangoutLink"),
        "created": resource.get("created"),
        "updated": resource.get("updated"),
    }
    candidate = {name: value for name, value in candidate.items() if value is not None}
    event, dropped = tolerant(Event, candidate)
    all_day = event.start is not None and event.start.date is not None
    return event.model_copy(update={"all_day": all_day}), dropped


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def calendar_from_google(entry: Any) -> Calendar | None:
    """A calendarList entry as the app's Calendar (None without a usable id)."""
    if not isinstance(entry, dict):
        return None
    candidate = {
        "id": entry.get("id"),
        "summary": entry.get("summaryOverride") or entry.get("summary"),
        "description": entry.get("description"),
        "time_zone": entry.get("timeZone"),
        "primary": entry.get("primary") is True,
        "access_role": entry.get("accessRole"),
        "background_color": entry.get("backgroundColor"),
    }
    try:
        calendar, dropped = tolerant(
            Calendar, {k: v for k, v in candidate.items() if v is not None}
        )
    except ValueError:
        _report_drops(0, 1)
        return None
    _report_drops(dropped, 0)
    return calendar
