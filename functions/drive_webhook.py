"""Drive webhook (public HTTPS): Google Drive changes channel notifications."""

from __future__ import annotations

import flask
import functions_framework

from functions._channel_webhook import NO_BEARER, channel_router
from shared.bootstrap import container
from shared.ports.sync import SourceKind

_app = container("event")
router = channel_router(_app, SourceKind.DRIVE)


@functions_framework.http
def drive_webhook(request: flask.Request) -> flask.Response:
    """Authenticate the channel, then sync Drive changes from the stored page token."""
    return router.dispatch(request, NO_BEARER)
