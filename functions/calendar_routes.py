"""The Calendar API's routes, declared once (see ``functions.api_document``)."""

from __future__ import annotations

from dataclasses import replace

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
    WriteQuery,
)
from shared.errors import ErrorCode as E
from shared.openapi import Header, Operation

CALENDAR = {"calendar_id": CALENDAR_ID_PATTERN}
EVENT = {**CALENDAR, "event_id": EVENT_ID_PATTERN}
IF_MATCH = Header("If-Match", ETAG_PATTERN, "Only if the event still has this ETag (else 412).")
IDEMPOTENCY_KEY = Header(
    "Idempotency-Key", IDEMPOTENCY_KEY_PATTERN, "A retried create with the same key makes no copy."
)
# Errors of every call that reaches Google with the user's grant.
GOOGLE = (
    E.GOOGLE_NOT_LINKED,
    E.GOOGLE_RELINK_REQUIRED,
    E.SCOPE_NOT_GRANTED,
    E.PERMISSION_DENIED,
    E.RATE_LIMITED,
    E.GOOGLE_UNAVAILABLE,
)

CALENDAR_OPERATIONS: list[Operation] = [
    Operation("GET", "/openapi.json", "This OpenAPI document.", free_form=True, auth=False),
    Operation("GET", "/v1/calendars", "The user's calendars.", CalendarList, errors=GOOGLE),
    Operation(
        "GET",
        "/v1/calendars/{calendar_id}/events",
        "Events in a time range: text search, expanded or master recurring events, paging.",
        EventPage,
        query=EventListQuery,
        path_patterns=CALENDAR,
        errors=GOOGLE,
    ),
    Operation(
        "POST",
        "/v1/calendars/{calendar_id}/events",
        "Create an event (201); a retry with the same id or Idempotency-Key answers 200.",
        Event,
        status=201,
        also=(200,),
        body=EventCreate,
        query=WriteQuery,
        path_patterns=CALENDAR,
        headers=(IDEMPOTENCY_KEY,),
        errors=(*GOOGLE, E.CONFLICT),
        etag=True,
    ),
    Operation(
        "GET",
        "/v1/calendars/{calendar_id}/events/{event_id}",
        "One event with its ETag.",
        Event,
        path_patterns=EVENT,
        errors=GOOGLE,
        etag=True,
    ),
    Operation(
        "GET",
        "/v1/calendars/{calendar_id}/events/{event_id}/instances",
        "Instances of a recurring event.",
        EventPage,
        query=InstancesQuery,
        path_patterns=EVENT,
        errors=GOOGLE,
    ),
    Operation(
        "PATCH",
        "/v1/calendars/{calendar_id}/events/{event_id}",
        "Change the given fields; If-Match makes it conditional.",
        Event,
        body=EventPatch,
        query=WriteQuery,
        path_patterns=EVENT,
        headers=(IF_MATCH,),
        errors=(*GOOGLE, E.CONFLICT, E.PRECONDITION_FAILED),
        etag=True,
        stale_model=Event,
    ),
    Operation(
        "DELETE",
        "/v1/calendars/{calendar_id}/events/{event_id}",
        "Delete an event; already deleted is success.",
        status=204,
        query=WriteQuery,
        path_patterns=EVENT,
        headers=(IF_MATCH,),
        errors=(*GOOGLE, E.PRECONDITION_FAILED),
        stale_model=Event,
    ),
]
CALENDAR_OPERATIONS = [replace(op, tag="calendar") for op in CALENDAR_OPERATIONS]
