"""Account API (HTTPS, Firebase ID token): the caller's profile and Google link."""

from __future__ import annotations

import flask
import functions_framework

from shared.bootstrap import container
from shared.http import RequestContext, Router
from shared.services import account

# Built at import so a misconfigured instance (e.g. emulator host in production) fails to start.
_app = container()
router = Router(max_body_bytes=_app.settings.max_request_bytes)


@router.get("/v1/me")
def get_me(ctx: RequestContext) -> account.Profile:
    """The caller's profile and the state of their Google link."""
    assert ctx.caller is not None
    return account.get_profile(ctx.caller, _app.user_records)


@functions_framework.http
def account_api(request: flask.Request) -> flask.Response:
    """Entry point of the account API function."""
    return router.dispatch(request, _app.authenticator)
