"""OAuth callback (public HTTPS GET): Google redirects the user's browser here."""

from __future__ import annotations

import flask
import functions_framework

from shared import pages
from shared.bootstrap import container
from shared.logs import get_logger
from shared.services.linking import CallbackOutcome, LinkResult
from shared.tracing import request_scope

_app = container()
log = get_logger(__name__)


@functions_framework.http
def oauth_callback(request: flask.Request) -> flask.Response:
    """Validate state, exchange the code, keep the grant for the app that started the link,
    and send the browser back to the app with a one-time completion code."""
    with request_scope(request.headers):
        if request.method != "GET":
            return flask.Response("Method not allowed", status=405, mimetype="text/plain")
        args = request.args
        try:
            outcome = _app.linking.complete(args.get("state"), args.get("code"), args.get("error"))
            status = 200 if outcome.result is LinkResult.APPROVED else 400
        except Exception:
            log.exception("oauth callback failed")
            outcome, status = CallbackOutcome(LinkResult.EXCHANGE_FAILED), 500
        lang = pages.language(request.headers.get("Accept-Language"))
        # Only the configured deep link: never a URL taken from the request.
        target = pages.deep_link(_app.settings.app_deep_link, outcome)
        response = flask.Response(
            pages.result_page(outcome.result, lang, target), status=status, mimetype="text/html"
        )
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
