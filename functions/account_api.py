"""Account API (HTTPS, Firebase ID token): profile, Google link, export and erase."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import flask
import functions_framework

from functions.account_routes import ACCOUNT_OPERATIONS
from shared.account_models import LinkCompletion, NativeExchange
from shared.bootstrap import container
from shared.http import Reply, RequestContext, Router
from shared.services import account, devices, feed, preferences
from shared.services.linking import LinkStatusView, StartedLink

# Built at import so a misconfigured instance (e.g. emulator host in production) fails to start.
_app = container()
router = Router(ACCOUNT_OPERATIONS, max_body_bytes=_app.settings.max_request_bytes)


@router.handles("get_openapi_json")
def openapi(ctx: RequestContext) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the whole mobile API."""
    from functions.api_document import mobile_api_document

    return mobile_api_document()


@router.handles("get_v1_me")
def get_me(ctx: RequestContext) -> account.Profile:
    """The caller's profile and the state of their Google link."""
    assert ctx.caller is not None
    return account.get_profile(ctx.caller, _app.user_records)


@router.handles("delete_v1_me")
def erase_me(ctx: RequestContext) -> Reply:
    """Erase the account: stop watches, revoke Google access, delete every record, then
    the Firebase Auth user (its tokens stop working), then anything a request re-created
    meanwhile. A failure is a 5xx and the app retries: every step is idempotent."""
    _app.linking.erase(ctx.uid)
    _app.authenticator.delete_user(ctx.uid)
    _app.linking.erase(ctx.uid)
    return Reply(status=204)


@router.handles("get_v1_me_export")
def export_me(ctx: RequestContext) -> dict[str, Any]:
    """Everything stored about the caller, as JSON (never tokens)."""
    return _app.linking.export(ctx.uid)


@router.handles("get_v1_activity")
def list_activity(ctx: RequestContext) -> feed.FeedPage:
    """The caller's activity feed (new mail, Drive and Calendar changes), newest first."""
    return feed.read_feed(ctx.uid, ctx.query(feed.FeedQuery), _app.feed_reader)


@router.handles("post_v1_google_link")
def start_link(ctx: RequestContext) -> StartedLink:
    """Google's consent URL with a single-use state bound to the caller (PKCE S256)."""
    return _app.linking.start(ctx.uid)


@router.handles("post_v1_google_native")
def native_exchange(ctx: RequestContext) -> LinkStatusView:
    """Link with a server auth code from native Google Sign-In."""
    body = ctx.json_body(NativeExchange)
    return _app.linking.exchange_native(ctx.uid, body.server_auth_code, body.nonce)


@router.handles("post_v1_google_link_complete")
def complete_link(ctx: RequestContext) -> LinkStatusView:
    """Store the grant the OAuth callback kept, if the caller is who started the link."""
    body = ctx.json_body(LinkCompletion)
    return _app.linking.finish(ctx.uid, body.completion_code)


@router.handles("get_v1_google")
def link_status(ctx: RequestContext) -> LinkStatusView:
    """The link state, the scopes the user actually granted, the features they enable and
    the health of each feature's watch."""
    return _app.linking.overview(ctx.uid)


@router.handles("post_v1_google_verify")
def verify_link(ctx: RequestContext) -> LinkStatusView:
    """Refresh the access token now: proves Google still honours the grant."""
    _app.credentials.for_user(ctx.uid, force_refresh=True)
    return _app.linking.status(ctx.uid)


@router.handles("delete_v1_google")
def unlink(ctx: RequestContext) -> Reply:
    """Stop watches, revoke the grant at Google and delete every Google-derived record."""
    _app.linking.unlink(ctx.uid)
    return Reply(status=204)


@router.handles("put_v1_devices_device_id")
def register_device(ctx: RequestContext) -> Reply:
    """Register this app install for pushes, or refresh it (a rotated token replaces the old)."""
    device_id = devices.check_device_id(ctx.path_params["device_id"])
    body = ctx.json_body(devices.DeviceRegistration)
    view, created = _app.devices.register(ctx.uid, device_id, body, datetime.now(UTC))
    return Reply(body=view, status=201 if created else 200)


@router.handles("get_v1_devices")
def list_devices(ctx: RequestContext) -> devices.DeviceList:
    """The caller's devices; tokens only as fingerprints."""
    return _app.devices.listing(ctx.uid)


@router.handles("delete_v1_devices_device_id")
def delete_device(ctx: RequestContext) -> Reply:
    """Stop pushes to one of the caller's devices (idempotent)."""
    _app.devices.delete(ctx.uid, devices.check_device_id(ctx.path_params["device_id"]))
    return Reply(status=204)


@router.handles("get_v1_preferences")
def get_preferences(ctx: RequestContext) -> preferences.Preferences:
    """The caller's notification preferences (defaults until set)."""
    return preferences.read(_app.preferences, ctx.uid)


@router.handles("put_v1_preferences")
def put_preferences(ctx: RequestContext) -> preferences.Preferences:
    """Replace the notification preferences; applies to pushes not yet sent."""
    body = ctx.json_body(preferences.Preferences)
    _app.preferences.put(ctx.uid, body)
    return body


@functions_framework.http
def account_api(request: flask.Request) -> flask.Response:
    """Entry point of the account API function."""
    return router.dispatch(request, _app.authenticator)
