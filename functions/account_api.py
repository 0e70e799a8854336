"""Account API (HTTPS, Firebase ID token): profile, Google link, export and erase."""

from __future__ import annotations

from typing import Any

import flask
import functions_framework
from pydantic import BaseModel, ConfigDict, Field

from shared.bootstrap import container
from shared.http import Reply, RequestContext, Router
from shared.services import account
from shared.services.linking import LinkStatusView, StartedLink

# Built at import so a misconfigured instance (e.g. emulator host in production) fails to start.
_app = container()
router = Router(max_body_bytes=_app.settings.max_request_bytes)


class NativeExchange(BaseModel):
    """Body of ``POST /v1/google/native``: the server auth code from native sign-in."""

    model_config = ConfigDict(extra="forbid")

    server_auth_code: str = Field(min_length=10, max_length=2048, pattern=r"^[\x21-\x7e]+$")


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
    """The link state, the scopes the user actually granted and the features they enable."""
    return _app.linking.status(ctx.uid)


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


@functions_framework.http
def account_api(request: flask.Request) -> flask.Response:
    """Entry point of the account API function."""
    return router.dispatch(request, _app.authenticator)
