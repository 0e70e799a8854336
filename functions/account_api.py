"""Account API (HTTPS, Firebase ID token): profile, Google link, export and erase."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import flask
import functions_framework

from shared.account_models import NativeExchange
from shared.bootstrap import container
from shared.http import Reply, RequestContext, Router
from shared.services import account, devices, feed, preferences
from shared.services.linking import LinkStatusView, StartedLink

# Built at import so a misconfigured instance (e.g. emulator host in production) fails to start.
_app = container()
router = Router(max_body_bytes=_app.settings.max_request_bytes)


@router.get("/openapi.json", auth=False)
def openapi(ctx: RequestContext) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the whole mobile API."""
    from shared.api_contract import mobile_api_document

    return mobile_api_document()


@router.get("/v1/me")
def get_me(ctx: RequestContext) -> account.Profile:
    """The caller's profile and the state of their Google link."""
    assert ctx.caller is not None
    return account.get_profile(ctx.caller, _app.user_records)


@router.delete("/v1/me")
def erase_me(ctx: RequestContext) -> Reply:
    """Erase the account: stop watches, revoke Google access, delete every record."""
    _app.linking.erase(ctx.uid)
    return Reply(status=204)


@router.get("/v1/me/export")
def export_me(ctx: RequestContext) -> dict[str, Any]:
    """Everything stored about the caller, as JSON (never tokens)."""
    return _app.linking.export(ctx.uid)


@router.get("/v1/activity")
def list_activity(ctx: RequestContext) -> feed.FeedPage:
    """The caller's activity feed (new mail, Drive and Calendar changes), newest first."""
    return feed.read_feed(ctx.uid, ctx.query(feed.FeedQuery), _app.feed_reader)


@router.post("/v1/google/link")
def start_link(ctx: RequestContext) -> StartedLink:
    """Google's consent URL with a single-use state bound to the caller (PKCE S256)."""
    return _app.linking.start(ctx.uid)


@router.post("/v1/google/native")
def native_exchange(ctx: RequestContext) -> LinkStatusView:
    """Link with a server auth code from native Google Sign-In."""
    body = ctx.json_body(NativeExchange)
    return _app.linking.exchange_native(ctx.uid, body.server_auth_code)


@router.get("/v1/google")
def link_status(ctx: RequestContext) -> LinkStatusView:
    """The link state, the scopes the user actually granted, the features they enable and
    the health of each feature's watch."""
    return _app.linking.overview(ctx.uid)


@router.post("/v1/google/verify")
def verify_link(ctx: RequestContext) -> LinkStatusView:
    """Refresh the access token now: proves Google still honours the grant."""
    _app.credentials.for_user(ctx.uid, force_refresh=True)
    return _app.linking.status(ctx.uid)


@router.delete("/v1/google")
def unlink(ctx: RequestContext) -> Reply:
    """Stop watches, revoke the grant at Google and delete every Google-derived record."""
    _app.linking.unlink(ctx.uid)
    return Reply(status=204)


@router.put("/v1/devices/{device_id}")
def register_device(ctx: RequestContext) -> Reply:
    """Register this app install for pushes, or refresh it (a rotated token replaces the old)."""
    device_id = devices.check_device_id(ctx.path_params["device_id"])
    body = ctx.json_body(devices.DeviceRegistration)
    view, created = _app.devices.register(ctx.uid, device_id, body, datetime.now(UTC))
    return Reply(body=view, status=201 if created else 200)


@router.get("/v1/devices")
def list_devices(ctx: RequestContext) -> devices.DeviceList:
    """The caller's devices; tokens only as fingerprints."""
    return _app.devices.listing(ctx.uid)


@router.delete("/v1/devices/{device_id}")
def delete_device(ctx: RequestContext) -> Reply:
    """Stop pushes to one of the caller's devices (idempotent)."""
    _app.devices.delete(ctx.uid, devices.check_device_id(ctx.path_params["device_id"]))
    return Reply(status=204)


@router.get("/v1/preferences")
def get_preferences(ctx: RequestContext) -> preferences.Preferences:
    """The caller's notification preferences (defaults until set)."""
    return preferences.read(_app.preferences, ctx.uid)


@router.put("/v1/preferences")
def put_preferences(ctx: RequestContext) -> preferences.Preferences:
    """Replace the notification preferences; applies to pushes not yet sent."""
    body = ctx.json_body(preferences.Preferences)
    _app.preferences.put(ctx.uid, body)
    return body


@functions_framework.http
def account_api(request: flask.Request) -> flask.Response:
    """Entry point of the account API function."""
    return router.dispatch(request, _app.authenticator)
