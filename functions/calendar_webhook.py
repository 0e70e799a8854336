"""Calendar webhook (public HTTPS): Google Calendar channel notifications."""

from __future__ import annotations

import flask
import functions_framework

from shared.bootstrap import container
from shared.services.sync import SourceKind
from shared.webhook_endpoint import NO_BEARER, channel_router

_app = container()
router = channel_router(_app, SourceKind.CALENDAR)


@functions_framework.http
def calendar_webhook(request: flask.Request) -> flask.Response:
    """Authenticate the channel, then sync the calendar from its stored sync token."""
    return router.dispatch(request, NO_BEARER)
