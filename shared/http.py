"""The one HTTP entry layer: routing, authentication, validation and error mapping.

Every HTTP function is ``router.dispatch(request, authenticator)``: handlers receive a
``RequestContext`` and return a pydantic model, a dict or a ``Reply``; any ``AppError``
becomes its status and JSON body here, and anything else a logged, generic 500.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import flask
from pydantic import BaseModel, ValidationError

from shared.errors import HTTP_STATUS, AppError, ErrorCode
from shared.logs import get_logger
from shared.ports.identity import Caller
from shared.tracing import request_scope

log = get_logger(__name__)

M = TypeVar("M", bound=BaseModel)


class Authenticator(Protocol):
    """Turns a bearer token into a caller or raises ``AppError(UNAUTHENTICATED)``."""

    def verify(self, token: str) -> Caller: ...


@dataclass
class Reply:
    """A handler result with an explicit status and headers."""

    body: BaseModel | Mapping[str, Any] | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class RequestContext:
    """What a handler may read about the request it serves."""

    request: flask.Request
    path_params: dict[str, str]
    caller: Caller | None
    max_body_bytes: int

    @property
    def uid(self) -> str:
        """The authenticated caller's uid (routes with ``auth=True`` always have one)."""
        if self.caller is None:
            raise AppError(ErrorCode.UNAUTHENTICATED, "Authentication required.")
        return self.caller.uid

    def json_body(self, model: type[M]) -> M:
        """Parse and validate the JSON body, or raise a 4xx naming the offending field."""
        mimetype = self.request.mimetype or ""
        if mimetype != "application/json":
            raise AppError(
                ErrorCode.UNSUPPORTED_MEDIA_TYPE, "The request body must be application/json."
            )
        raw = _read_body(self.request, self.max_body_bytes)
        try:
            return model.model_validate_json(raw)
        except ValidationError as exc:
            raise validation_error(exc) from None

    def query(self, model: type[M]) -> M:
        """Validate the query string against a model (repeated keys become lists)."""
        args = self.request.args
        values: dict[str, Any] = {
            key: (args.getlist(key) if len(args.getlist(key)) > 1 else args[key]) for key in args
        }
        try:
            return model.model_validate(values)
        except ValidationError as exc:
            raise validation_error(exc) from None


Handler = Callable[[RequestContext], BaseModel | Mapping[str, Any] | Reply]


@dataclass(frozen=True)
class Route:
    """One method and path pattern bound to a handler."""

    method: str
    pattern: re.Pattern[str]
    template: str
    handler: Handler
    auth: bool


_PARAM = re.compile(r"\{([a-z_]+)\}")


def _compile(template: str) -> re.Pattern[str]:
    parts = _PARAM.split(template)
    regex = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+)"
        for index, part in enumerate(parts)
    )
    return re.compile(f"^{regex}$")


class Router:
    """Maps (method, path) to handlers; ``dispatch`` is the whole HTTP function body."""

    def __init__(self, *, max_body_bytes: int = 64 * 1024) -> None:
        self.routes: list[Route] = []
        self.max_body_bytes = max_body_bytes
        json_framework_errors()

    def route(
        self, method: str, template: str, *, auth: bool = True
    ) -> Callable[[Handler], Handler]:
        """Register a handler for one method and path template like ``/v1/items/{item_id}``."""

        def register(handler: Handler) -> Handler:
            self.routes.append(Route(method.upper(), _compile(template), template, handler, auth))
            return handler

        return register

    def get(self, template: str, *, auth: bool = True) -> Callable[[Handler], Handler]:
        """Register a GET handler."""
        return self.route("GET", template, auth=auth)

    def post(self, template: str, *, auth: bool = True) -> Callable[[Handler], Handler]:
        """Register a POST handler."""
        return self.route("POST", template, auth=auth)

    def delete(self, template: str, *, auth: bool = True) -> Callable[[Handler], Handler]:
        """Register a DELETE handler."""
        return self.route("DELETE", template, auth=auth)

    def patch(self, template: str, *, auth: bool = True) -> Callable[[Handler], Handler]:
        """Register a PATCH handler."""
        return self.route("PATCH", template, auth=auth)

    def put(self, template: str, *, auth: bool = True) -> Callable[[Handler], Handler]:
        """Register a PUT handler."""
        return self.route("PUT", template, auth=auth)

    def dispatch(self, request: flask.Request, authenticator: Authenticator) -> flask.Response:
        """Serve one request: match, authenticate, run the handler, map errors."""
        with request_scope(request.headers) as execution_id:
            try:
                response = self._serve(request, authenticator)
            except AppError as exc:
                if exc.status >= 500:
                    log.error("request failed", extra={"error_code": exc.code.value})
                response = _json_response(exc.to_body(), exc.status)
                if exc.retry_after is not None:
                    response.headers["Retry-After"] = str(exc.retry_after)
            except Exception:
                log.exception("unhandled error", extra={"path": request.path})
                body = AppError(ErrorCode.INTERNAL, "Internal error.").to_body()
                response = _json_response(body, 500)
            response.headers["X-Request-Id"] = execution_id
            response.headers.setdefault("Cache-Control", "no-store")
            return response

    def _serve(self, request: flask.Request, authenticator: Authenticator) -> flask.Response:
        route, params = self._match(request.method, request.path)
        declared = request.content_length
        if declared is not None and declared > self.max_body_bytes:
            raise AppError(ErrorCode.PAYLOAD_TOO_LARGE, "The request body is too large.")
        caller = authenticator.verify(_bearer_token(request)) if route.auth else None
        context = RequestContext(request, params, caller, self.max_body_bytes)
        result = route.handler(context)
        reply = result if isinstance(result, Reply) else Reply(body=result)
        body: Any = (
            reply.body.model_dump(mode="json", exclude_none=True)
            if isinstance(reply.body, BaseModel)
            else reply.body
        )
        response = (
            _json_response(body, reply.status)
            if body is not None
            else flask.Response(status=reply.status)
        )
        response.headers.update(reply.headers)
        return response

    def _match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        allowed: list[str] = []
        for route in self.routes:
            found = route.pattern.match(path)
            if found is None:
                continue
            if route.method == method.upper():
                return route, found.groupdict()
            allowed.append(route.method)
        if allowed:
            raise AppError(ErrorCode.METHOD_NOT_ALLOWED, f"Use one of: {', '.join(allowed)}.")
        raise AppError(ErrorCode.NOT_FOUND, "No such route.")


def json_framework_errors() -> None:
    """Answer requests that functions-framework rejects before our router (e.g. a path with
    a newline, which its ``/<path:path>`` rule cannot match) with our JSON error body, not
    Flask's HTML page. Outside functions-framework this registers nothing."""
    import functions_framework
    from werkzeug.exceptions import HTTPException

    @functions_framework.errorhandler(HTTPException)
    def framework_error(error: HTTPException) -> flask.Response:
        status = error.code or 400
        code = next(
            (code for code, mapped in HTTP_STATUS.items() if int(mapped) == status),
            ErrorCode.INVALID_REQUEST if status < 500 else ErrorCode.INTERNAL,
        )
        message = "No such route." if code is ErrorCode.NOT_FOUND else "Request rejected."
        return _json_response(AppError(code, message).to_body(), status)


def _bearer_token(request: flask.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AppError(ErrorCode.UNAUTHENTICATED, "A Firebase ID token is required.")
    return token.strip()


def _read_body(request: flask.Request, limit: int) -> bytes:
    # Content-Length may be absent (chunked), so read at most one byte past the limit.
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise AppError(ErrorCode.PAYLOAD_TOO_LARGE, "The request body is too large.")
    return raw


def _json_response(body: Any, status: int) -> flask.Response:
    return flask.Response(json.dumps(body), status=status, mimetype="application/json")


def validation_error(exc: ValidationError) -> AppError:
    """The first validation failure as a 400 naming its field, never echoing the input."""
    first = exc.errors(include_input=False, include_url=False)[0]
    location = ".".join(str(part) for part in first.get("loc", ())) or None
    return AppError(
        ErrorCode.INVALID_REQUEST, str(first.get("msg", "Invalid value.")), field=location
    )
