"""The catch-all route in front of every discovery method: match, authenticate, validate, dispatch.

Order of checks, as Google applies them: unknown path (404), access token (401), scopes (403),
query parameters and JSON body (400), queued fault, then the handler (501 when none exists).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request

from devstack.fake_google.context import ServerContext
from devstack.fake_google.discovery import RouteMatch, validate_query
from devstack.fake_google.errors import GoogleApiError, insufficient_scopes, unauthenticated
from devstack.fake_google.faults import api_fault_body, apply_fault
from devstack.fake_google.registry import ApiRequest, ApiResponse
from devstack.fake_google.responses import error_response, handler_result_response
from devstack.fake_google.state import AccessToken, CallRecord, FakeState, loggable_query

logger = logging.getLogger(__name__)

_API_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def raw_request_path() -> str:
    """The path as the client sent it, still percent-encoded (so `%2F` stays inside a segment)."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw:
        return urllib.parse.quote(request.path)
    if "://" in raw:
        raw = urllib.parse.urlsplit(raw).path
    return raw.split("?", 1)[0]


def _bearer_token(state: FakeState) -> AccessToken | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return state.live_access_token(value.strip())


def _parse_body() -> Any:
    if not request.get_data():
        return None
    try:
        return json.loads(request.get_data())
    except ValueError:
        raise GoogleApiError(400, "Invalid JSON payload received.", "parseError") from None


def _logged(action: Callable[[], None], method_id: str) -> Callable[[], None]:
    def run() -> None:
        try:
            action()
        except Exception:
            logger.exception("deferred action of %s failed", method_id)

    return run


class _Gateway:
    """Handles one API request; split into steps so the lock is never held while sleeping."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.state = ctx.state

    def handle(self) -> Response:
        match = self.ctx.router.match(request.method, raw_request_path())
        pairs = list(request.args.items(multi=True))
        # Read the body before taking the lock, so a slow client cannot stall the fake.
        request.get_data(cache=True)
        with self.state.lock:
            record = self.state.start_call(
                match.method.api if match else "unknown",
                match.method.method_id if match else "",
                request.method,
                request.path,
                loggable_query(pairs),
            )
            try:
                api_request = self._admit(match, pairs, record)
            except GoogleApiError as error:
                return self._finish(record, error_response(error), error.reason)
            fault = self.state.take_fault(api_request.method_id)
            if fault is not None:
                record.faulted = True
        if fault is not None:
            faulted = apply_fault(fault, request.environ, api_fault_body)
            if faulted is not None:
                with self.state.lock:
                    reason = fault.error_reason or ("dropped" if fault.status == 0 else "injected")
                    return self._finish(record, faulted, reason, dropped=fault.status == 0)
        return self._dispatch(api_request, record)

    def _admit(
        self, match: RouteMatch | None, pairs: list[tuple[str, str]], record: CallRecord
    ) -> ApiRequest:
        """Authenticate and validate; raises the GoogleApiError Google would answer with."""
        if match is None:
            raise GoogleApiError(404, "Method not found.", "notFound")
        method = match.method
        token = None
        user = None
        if method.scopes:
            token = _bearer_token(self.state)
            if token is None:
                raise unauthenticated()
            user = self.state.users.get(token.sub)
            # A service account's token names no user (FCM sends are made with one).
            if user is None and token.sub not in self.state.service_accounts:
                raise unauthenticated()
            record.user_sub = token.sub
            record.client_id = token.client_id
            if not token.scopes & method.scopes:
                raise insufficient_scopes(method.service_name, method.method_id)
        query = validate_query(method, pairs)
        body = _parse_body() if method.has_request_body else None
        return ApiRequest(
            method_id=method.method_id,
            http_method=method.http_method,
            path_params=match.path_params,
            query=query,
            body=body,
            user=user,
            scopes=token.scopes if token else frozenset(),
            client_id=token.client_id if token else None,
            headers=request.headers,
            state=self.state,
        )

    def _dispatch(self, api_request: ApiRequest, record: CallRecord) -> Response:
        with self.state.lock:
            handler = self.ctx.registry.handler_for(api_request.method_id, self.state)
            if handler is None:
                error = GoogleApiError(
                    501,
                    f"The fake Google server does not implement {api_request.method_id}.",
                    "notImplemented",
                )
                return self._finish(record, error_response(error), error.reason)
            delay = 0.0
            try:
                result = handler(api_request)
                delay = result.delay_seconds if isinstance(result, ApiResponse) else 0.0
                response = handler_result_response(result)
                reason = None
            except GoogleApiError as error:
                response, reason = error_response(error), error.reason
            except Exception as error:
                # A bug in a fake handler: answer like a Google backend failure, but say why.
                logger.exception("fake handler for %s failed", api_request.method_id)
                failure = GoogleApiError(500, f"Fake handler failed: {error!r}", "backendError")
                response, reason = error_response(failure), failure.reason
            finished = self._finish(record, response, reason)
        if delay > 0:
            time.sleep(delay)
        for action in api_request.deferred:
            finished.call_on_close(_logged(action, api_request.method_id))
        return finished

    def _finish(
        self, record: CallRecord, response: Response, reason: str | None, dropped: bool = False
    ) -> Response:
        record.status = 0 if dropped else response.status_code
        record.error = reason
        return response


def register_api_gateway(app: Flask, ctx: ServerContext) -> None:
    """Route every path not claimed by the OAuth or control routes to the discovery methods."""
    gateway = _Gateway(ctx)

    @app.route("/<path:_any>", methods=_API_METHODS)
    def api_call(_any: str) -> Response:
        return gateway.handle()

    @app.route("/", methods=_API_METHODS)
    def api_root() -> Response:
        return gateway.handle()
