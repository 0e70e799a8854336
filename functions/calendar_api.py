"""Calendar API (HTTPS, Firebase ID token): the user's calendars and events on Google Calendar."""

from __future__ import annotations

import re
from typing import Any

import flask
import functions_framework

from functions.calendar_routes import CALENDAR_OPERATIONS
from shared.bootstrap import container
from shared.calendar_models import (
    CALENDAR_ID_PATTERN,
    ETAG_PATTERN,
    EVENT_ID_PATTERN,
    IDEMPOTENCY_KEY_PATTERN,
    CalendarList,
    Event,
    EventCreate,
    EventListQuery,
    EventPage,
    EventPatch,
    InstancesQuery,
    NoQuery,
    WriteQuery,
)
from shared.errors import AppError, ErrorCode
from shared.http import Reply, RequestContext, Router

# Built at import so a misconfigured instance (e.g. emulator host in production) fails to start.
_app = container()
router = Router(CALENDAR_OPERATIONS, max_body_bytes=_app.settings.max_request_bytes)

_CALENDAR_ID = re.compile(CALENDAR_ID_PATTERN)
_EVENT_ID = re.compile(EVENT_ID_PATTERN)
_ETAG = re.compile(ETAG_PATTERN)
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


def _checked(value: str | None, pattern: re.Pattern[str], field: str) -> str:
    if value is None or not pattern.fullmatch(value):
        raise AppError(ErrorCode.INVALID_REQUEST, f"{field} is not valid.", field=field)
    return value


def _calendar_id(ctx: RequestContext) -> str:
    return _checked(ctx.path_params.get("calendar_id"), _CALENDAR_ID, "calendar_id")


def _event_id(ctx: RequestContext) -> str:
    return _checked(ctx.path_params.get("event_id"), _EVENT_ID, "event_id")


def _if_match(ctx: RequestContext) -> str | None:
    raw = ctx.request.headers.get("If-Match")
    if raw is None:
        return None
    value = _checked(raw.strip(), _ETAG, "If-Match").removeprefix("W/")
    # Google's etags are quoted; accept them with or without the quotes.
    return value if value.startswith('"') and value.endswith('"') else f'"{value.strip(chr(34))}"'


def _with_etag(event: Event, status: int = 200) -> Reply:
    headers = {"ETag": event.etag} if event.etag else {}
    return Reply(body=event, status=status, headers=headers)


@router.handles("get_openapi_json")
def openapi(ctx: RequestContext) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the whole mobile API."""
    from functions.api_document import mobile_api_document

    return mobile_api_document()


@router.handles("get_v1_calendars")
def list_calendars(ctx: RequestContext) -> CalendarList:
    """The user's calendars."""
    ctx.query(NoQuery)
    return _app.calendar.list_calendars(ctx.uid)


@router.handles("get_v1_calendars_calendar_id_events")
def list_events(ctx: RequestContext) -> EventPage:
    """Events of a calendar: time range, text, expansion, paging."""
    calendar_id = _calendar_id(ctx)
    query = ctx.query(EventListQuery)
    return _app.calendar.list_events(ctx.uid, calendar_id, query)


@router.handles("post_v1_calendars_calendar_id_events")
def create_event(ctx: RequestContext) -> Reply:
    """Create an event; 201 when made, 200 when a retry finds the one made before."""
    calendar_id = _calendar_id(ctx)
    query = ctx.query(WriteQuery)
    key = ctx.request.headers.get("Idempotency-Key")
    if key is not None:
        key = _checked(key, _IDEMPOTENCY_KEY, "Idempotency-Key")
    body = ctx.json_body(EventCreate)
    result = _app.calendar.create_event(ctx.uid, calendar_id, body, query.send_updates, key)
    return _with_etag(result.event, 201 if result.created else 200)


@router.handles("get_v1_calendars_calendar_id_events_event_id")
def get_event(ctx: RequestContext) -> Reply:
    """One event, with its ETag."""
    calendar_id, event_id = _calendar_id(ctx), _event_id(ctx)
    ctx.query(NoQuery)
    return _with_etag(_app.calendar.get_event(ctx.uid, calendar_id, event_id))


@router.handles("get_v1_calendars_calendar_id_events_event_id_instances")
def list_instances(ctx: RequestContext) -> EventPage:
    """Instances of a recurring event."""
    calendar_id, event_id = _calendar_id(ctx), _event_id(ctx)
    query = ctx.query(InstancesQuery)
    return _app.calendar.list_instances(ctx.uid, calendar_id, event_id, query)


@router.handles("patch_v1_calendars_calendar_id_events_event_id")
def patch_event(ctx: RequestContext) -> Reply:
    """Change the given fields; with If-Match, only if the event is still that version."""
    calendar_id, event_id = _calendar_id(ctx), _event_id(ctx)
    query = ctx.query(WriteQuery)
    if_match = _if_match(ctx)
    body = ctx.json_body(EventPatch)
    event = _app.calendar.patch_event(
        ctx.uid, calendar_id, event_id, body, query.send_updates, if_match
    )
    return _with_etag(event)


@router.handles("delete_v1_calendars_calendar_id_events_event_id")
def delete_event(ctx: RequestContext) -> Reply:
    """Delete the event (already deleted is success); If-Match as for PATCH."""
    calendar_id, event_id = _calendar_id(ctx), _event_id(ctx)
    query = ctx.query(WriteQuery)
    if_match = _if_match(ctx)
    _app.calendar.delete_event(ctx.uid, calendar_id, event_id, query.send_updates, if_match)
    return Reply(status=204)


@functions_framework.http
def calendar_api(request: flask.Request) -> flask.Response:
    """Entry point of the Calendar API function."""
    return router.dispatch(request, _app.authenticator)
