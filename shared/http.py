"""The one HTTP entry layer: routing, authentication, validation and error mapping.

Routes are declared once, as ``shared.openapi.Operation`` tables: a ``Router`` is built from
its table and dispatches each request by the operation's method, path and auth; the
handler of an operation is bound by its ``operation_id`` and reads the body and query the
operation declares (``ctx.json_body``/``ctx.query`` refuse any other model); the same table
produces the OpenAPI document. Every HTTP function is ``router.dispatch(request,
authenticator)``: handlers receive a ``RequestContext`` and return a pydantic model, a dict
or a ``Reply``; any ``AppError`` becomes its status and JSON body here, and anything else a
logged, generic 500.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import flask
from pydantic import BaseModel, ValidationError

from shared.errors import HTTP_STATUS, AppError, ErrorCode
from shared.logs import get_logger
from shared.openapi import Operation
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
    operation: Operation

    @property
    def uid(self) -> str:
        """The authenticated caller's uid (routes with ``auth=True`` always have one)."""
        if self.caller is None:
            raise AppError(ErrorCode.UNAUTHENTICATED, "Authentication required.")
        return self.caller.uid

    def json_body(self, model: type[M]) -> M:
        """Parse and validate the JSON body against the operation's declared ``body``, or
        raise a 4xx naming the offending field."""
        if model is not self.operation.body:
            raise TypeError(f"{self.operation.operation_id} declares no body {model.__name__}")
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
        """Validate the query string against the operation's declared ``query`` (or, for an
        operation without one, a model without fields that refuses any parameter); repeated
        keys become lists."""
        declared = self.operation.query
        if model is not declared and (declared is not None or model.model_fields):
            raise TypeError(f"{self.operation.operation_id} declares no query {model.__name__}")
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
    """One declared operation, its compiled path pattern and its handler."""

    operation: Operation
    pattern: re.Pattern[str]
    handler: Handler


_PARAM = re.compile(r"\{([a-z_]+)\}")


def _compile(template: str) -> re.Pattern[str]:
    parts = _PARAM.split(template)
    regex = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+)"
        for index, part in enumerate(parts)
    )
    return re.compile(f"^{regex}$")


class Router:
    """Serves one table of operations; ``dispatch`` is the whole HTTP function body."""

    def __init__(self, operations: Sequence[Operation], *, max_body_bytes: int = 64 * 1024) -> None:
        self.operations = {op.operation_id: op for op in operations}
        if len(self.operations) != len(operations):
            raise ValueError("two operations share an operation id")
        self._handlers: dict[str, Handler] = {}
        self.max_body_bytes = max_body_bytes
        json_framework_errors()

    def handles(self, operation_id: str) -> Callable[[Handler], Handler]:
        """Bind a handler to the operation of the table with this ``operation_id``."""
        if operation_id not in self.operations:
            raise KeyError(f"no operation {operation_id} in this router's table")

        def register(handler: Handler) -> Handler:
            self._handlers[operation_id] = handler
            return handler

        return register

    @functools.cached_property
    def routes(self) -> list[Route]:
        """Every operation with its handler; an operation without one is a startup error."""
        missing = sorted(set(self.operations) - set(self._handlers))
        if missing:
            raise RuntimeError(f"operations without a handler: {missing}")
        return [
            Route(op, _compile(op.path), self._handlers[op_id])
            for op_id, op in self.operations.items()
        ]

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
        operation = route.operation
        caller = authenticator.verify(_bearer_token(request)) if operation.auth else None
        context = RequestContext(request, params, caller, self.max_body_bytes, operation)
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
            if route.operation.method == method.upper():
                return route, found.groupdict()
            allowed.append(route.operation.method)
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
