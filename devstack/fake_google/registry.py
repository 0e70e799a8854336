"""The seam for API modules: handlers keyed by discovery method id, plus per-module data."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from werkzeug.datastructures import Headers

from devstack.fake_google.errors import unauthenticated
from devstack.fake_google.state import FakeState, FakeUser

S = TypeVar("S")


@dataclass
class ApiResponse:
    """What a handler answers when a plain JSON 200 is not enough."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    # Set for non-JSON answers (e.g. `alt=media` downloads); `body` is then ignored.
    raw: bytes | None = None
    content_type: str = "application/json; charset=UTF-8"
    # The work is done (state changed) but the answer leaves this much later, without the
    # state lock held: a client timing out first never learns that it succeeded.
    delay_seconds: float = 0.0


# A dict or list is sent as JSON 200; None as an empty 204 (what Google's deletes answer).
HandlerResult = ApiResponse | dict[str, Any] | list[Any] | None


@dataclass
class ApiRequest:
    """An authenticated, validated call to one discovery method."""

    method_id: str
    http_method: str
    path_params: dict[str, str]
    # Typed per the discovery document: int, bool, str, or a list of those when `repeated`.
    query: dict[str, Any]
    # The parsed JSON body, or None when the request had none.
    body: Any
    # None only for methods that declare no scopes (they need no access token).
    user: FakeUser | None
    scopes: frozenset[str]
    client_id: str | None
    headers: Headers
    state: FakeState
    deferred: list[Callable[[], None]] = field(default_factory=list)

    @property
    def caller(self) -> FakeUser:
        """The authenticated user (a 401 when the method ran without a token)."""
        if self.user is None:
            raise unauthenticated()
        return self.user

    def defer(self, action: Callable[[], None]) -> None:
        """Run `action` after the response is sent and the state lock released.

        Use it for outbound calls (push notifications to webhooks, Pub/Sub publishes), which must
        not run under the lock because the receiver may call back into the fake.
        """
        self.deferred.append(action)


@dataclass
class ControlRequest:
    """A call to a module's control route under `/_control/<module>/...`."""

    body: dict[str, Any]
    args: dict[str, str]
    path_params: dict[str, str]
    state: FakeState

    def named_user(self) -> FakeUser | None:
        """The fake user named by `sub` or `email` in the JSON body or the query string."""
        sub = self.body.get("sub") or self.args.get("sub")
        email = self.body.get("email") or self.args.get("email")
        if isinstance(sub, str) and sub:
            return self.state.users.get(sub)
        if isinstance(email, str) and email:
            return self.state.find_user_by_email(email)
        return None


Handler = Callable[[ApiRequest, S], HandlerResult]
ControlHandler = Callable[[ControlRequest, S], HandlerResult]


@dataclass(frozen=True)
class ControlRoute(Generic[S]):
    """A Flask URL rule under `/_control/<module>` and its handler."""

    rule: str
    methods: tuple[str, ...]
    handler: ControlHandler[S]


class ApiModule(Generic[S]):
    """A group of handlers sharing one data object, created fresh at startup and on reset."""

    def __init__(self, name: str, new_data: Callable[[], S]) -> None:
        self.name = name
        self.new_data = new_data
        self.handlers: dict[str, Handler[S]] = {}
        self.control_routes: list[ControlRoute[S]] = []

    def handler(self, method_id: str) -> Callable[[Handler[S]], Handler[S]]:
        """Decorator: serve the discovery method `method_id` (e.g. "calendar.events.list")."""

        def register(function: Handler[S]) -> Handler[S]:
            if method_id in self.handlers:
                raise ValueError(f"{method_id} already has a handler in module {self.name}")
            self.handlers[method_id] = function
            return function

        return register

    def control(
        self, rule: str, methods: Iterable[str] = ("POST",)
    ) -> Callable[[ControlHandler[S]], ControlHandler[S]]:
        """Decorator: add a test control route at `/_control/<module name><rule>`."""

        def register(function: ControlHandler[S]) -> ControlHandler[S]:
            self.control_routes.append(ControlRoute(rule, tuple(methods), function))
            return function

        return register


BoundHandler = Callable[[ApiRequest], HandlerResult]


class ApiRegistry:
    """All handlers of all modules, bound to the module data held in `FakeState`."""

    def __init__(self, modules: Iterable[ApiModule[Any]], known_method_ids: Iterable[str]) -> None:
        self.modules = tuple(modules)
        known = set(known_method_ids)
        self._owner: dict[str, ApiModule[Any]] = {}
        for module in self.modules:
            for method_id in module.handlers:
                if method_id not in known:
                    raise ValueError(f"{module.name} handles unknown method {method_id}")
                if method_id in self._owner:
                    raise ValueError(f"{method_id} is handled by two modules")
                self._owner[method_id] = module

    def data_factories(self) -> dict[str, Callable[[], Any]]:
        """Module name → constructor of its fresh data, for `FakeState.reset`."""
        return {m.name: m.new_data for m in self.modules}

    def handler_for(self, method_id: str, state: FakeState) -> BoundHandler | None:
        """The handler for a method with its module data bound, or None (answered as 501)."""
        module = self._owner.get(method_id)
        if module is None:
            return None
        function = module.handlers[method_id]
        data = state.module_data[module.name]
        return lambda request: function(request, data)
