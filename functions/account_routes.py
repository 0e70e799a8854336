"""The account API's routes, declared once (see ``functions.api_document``)."""

from __future__ import annotations

from dataclasses import replace

from shared.account_models import LinkCompletion, NativeExchange
from shared.errors import ErrorCode as E
from shared.openapi import Operation
from shared.services import account, devices, feed, preferences
from shared.services.linking import LinkStatusView, StartedLink

DEVICE = {"device_id": devices.DEVICE_ID_PATTERN}

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
ACCOUNT_OPERATIONS = [replace(op, tag="account") for op in ACCOUNT_OPERATIONS]
