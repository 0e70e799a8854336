"""The mobile API's contract: every route of account_api and calendar_api with its models.

``tests/unit/test_openapi.py`` keeps this table equal to the functions' routers and the
committed ``docs/openapi.json`` equal to the document built here. Regenerate it with
``python -m shared.api_contract > docs/openapi.json``.
"""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from typing import Any

from shared.account_models import LinkCompletion, NativeExchange
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
from shared.openapi import Header, Operation, build_document
from shared.services import account, devices, feed, preferences
from shared.services.linking import LinkStatusView, StartedLink

CALENDAR = {"calendar_id": CALENDAR_ID_PATTERN}
EVENT = {**CALENDAR, "event_id": EVENT_ID_PATTERN}
DEVICE = {"device_id": devices.DEVICE_ID_PATTERN}
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

ACCOUNT_OPERATIONS: list[Operation] = [
    Operation("GET", "/openapi.json", "This OpenAPI document.", free_form=True, auth=False),
    Operation("GET", "/v1/me", "The caller's profile and Google link.", account.Profile),
    Operation("DELETE", "/v1/me", "Erase the account and everything stored.", status=204),
    Operation("GET", "/v1/me/export", "Everything stored about the caller.", free_form=True),
    Operation(
        "GET",
        "/v1/activity",
        "The activity feed, newest first.",
        feed.FeedPage,
        query=feed.FeedQuery,
    ),
    Operation(
        "POST",
        "/v1/google/link",
        "Start linking: Google's consent URL, and a nonce for native sign-in.",
        StartedLink,
    ),
    Operation(
        "POST",
        "/v1/google/link/complete",
        "Complete a web link with the completion code of the deep link.",
        LinkStatusView,
        body=LinkCompletion,
        errors=(E.PERMISSION_DENIED, E.CONFLICT, E.GOOGLE_UNAVAILABLE),
    ),
    Operation(
        "POST",
        "/v1/google/native",
        "Link with a native sign-in server auth code and the link's nonce.",
        LinkStatusView,
        body=NativeExchange,
        errors=(E.PERMISSION_DENIED, E.CONFLICT, E.GOOGLE_UNAVAILABLE),
    ),
    Operation("GET", "/v1/google", "The link state and granted features.", LinkStatusView),
    Operation(
        "POST",
        "/v1/google/verify",
        "Refresh the access token now.",
        LinkStatusView,
        errors=(E.GOOGLE_NOT_LINKED, E.GOOGLE_RELINK_REQUIRED, E.GOOGLE_UNAVAILABLE),
    ),
    Operation("DELETE", "/v1/google", "Unlink Google and delete its data.", status=204),
    Operation(
        "PUT",
        "/v1/devices/{device_id}",
        "Register or refresh this install for pushes.",
        devices.DeviceView,
        status=201,
        also=(200,),
        body=devices.DeviceRegistration,
        path_patterns=DEVICE,
    ),
    Operation("GET", "/v1/devices", "The caller's devices.", devices.DeviceList),
    Operation(
        "DELETE",
        "/v1/devices/{device_id}",
        "Stop pushes to a device.",
        status=204,
        path_patterns=DEVICE,
    ),
    Operation("GET", "/v1/preferences", "Notification preferences.", preferences.Preferences),
    Operation(
        "PUT",
        "/v1/preferences",
        "Replace notification preferences.",
        preferences.Preferences,
        body=preferences.Preferences,
    ),
]

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

ACCOUNT_OPERATIONS = [replace(op, tag="account") for op in ACCOUNT_OPERATIONS]
CALENDAR_OPERATIONS = [replace(op, tag="calendar") for op in CALENDAR_OPERATIONS]

DESCRIPTION = (
    "The U+ Groupware mobile API. Account routes are served by the account_api function, "
    "calendar routes by calendar_api; both serve this document at GET /openapi.json. Every "
    "route except /openapi.json needs a Firebase ID token. Errors are "
    '{"error": {"code", "message", "field"?, "retry_after"?}} with one status per code.'
)


@functools.cache
def mobile_api_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the account and calendar APIs."""
    calendar = [op for op in CALENDAR_OPERATIONS if op.path != "/openapi.json"]
    return build_document(
        ACCOUNT_OPERATIONS + calendar,
        title="U+ Groupware mobile API",
        version="1",
        description=DESCRIPTION,
    )


def render() -> str:
    """The document as committed in docs/openapi.json."""
    return json.dumps(mobile_api_document(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
