"""The test control API under `/_control/`: users, clients, call log, faults, grants, codes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request

from devstack.fake_google.bulk import register_bulk_routes
from devstack.fake_google.config import OAuthClient
from devstack.fake_google.context import ServerContext
from devstack.fake_google.errors import GoogleApiError
from devstack.fake_google.oauth import create_auth_code
from devstack.fake_google.registry import ApiModule, ControlRequest, ControlRoute
from devstack.fake_google.responses import error_response, handler_result_response, json_response
from devstack.fake_google.scopes import parse_scope_param
from devstack.fake_google.service_accounts import parse_service_account
from devstack.fake_google.state import FakeState, FakeUser, Fault

OAUTH_FAULT_TARGETS = frozenset({"oauth.authorize", "oauth.approve", "oauth.token", "oauth.revoke"})


class ControlError(Exception):
    """A bad control request, answered as `{"error": message}`."""

    def __init__(self, message: str, status: int = 400) -> None:
        self.message = message
        self.status = status
        super().__init__(message)


def _body() -> dict[str, Any]:
    if not request.get_data():
        return {}
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        raise ControlError("the body must be a JSON object")
    return body


def _optional(body: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = body.get(name)
    if value is not None and not isinstance(value, kind):
        raise ControlError(f"{name} has the wrong type")
    return value


def _required(body: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = _optional(body, name, kind)
    if value is None:
        raise ControlError(f"{name} is required")
    return value


def _find_user(state: FakeState, body: dict[str, Any]) -> FakeUser:
    sub = _optional(body, "sub", str)
    email = _optional(body, "email", str)
    user = state.users.get(sub) if sub else state.find_user_by_email(email) if email else None
    if user is None:
        raise ControlError("no such user (give an existing sub or email)", 404)
    return user


def _parse_fault(body: dict[str, Any], known_targets: frozenset[str]) -> Fault:
    target = _required(body, "target", str)
    if target not in known_targets:
        raise ControlError(f"unknown fault target {target}")
    status = _required(body, "status", int)
    times = _optional(body, "times", int) or 1
    delay = _optional(body, "delay_seconds", (int, float)) or 0
    if status < 0 or times < 1 or delay < 0:
        raise ControlError("status >= 0, times >= 1 and delay_seconds >= 0 are required")
    return Fault(
        id=0,
        target=target,
        status=status,
        times_left=times,
        delay_seconds=float(delay),
        error_reason=_optional(body, "error_reason", str),
        oauth_error=_optional(body, "oauth_error", str),
        message=_optional(body, "message", str),
        retry_after=_optional(body, "retry_after", int),
    )


def _grants_of(state: FakeState, sub: str | None) -> list[dict[str, Any]]:
    now = state.now()
    result = []
    for grant in state.grants.values():
        if sub and grant.sub != sub:
            continue
        live_access = [
            t
            for t in state.access_tokens.values()
            if t.sub == grant.sub
            and t.client_id == grant.client_id
            and not t.revoked
            and t.expires_at > now
        ]
        result.append(
            {
                "sub": grant.sub,
                "client_id": grant.client_id,
                "scopes": sorted(grant.scopes),
                "refresh_token_live": state.has_live_refresh_token(grant.sub, grant.client_id),
                "live_access_tokens": len(live_access),
            }
        )
    return result


def _module_view(ctx: ServerContext, module: ApiModule[Any], route: ControlRoute[Any]) -> Any:
    def view(**path_params: str) -> Response:
        control_request = ControlRequest(
            body=_body(), args=request.args.to_dict(), path_params=path_params, state=ctx.state
        )
        with ctx.state.lock:
            data = ctx.state.module_data[module.name]
            try:
                return handler_result_response(route.handler(control_request, data))
            except GoogleApiError as error:
                return error_response(error)

    return view


def register_control_routes(app: Flask, ctx: ServerContext) -> None:
    """Add `/_control/...` to the app, including the control routes of API modules."""
    state = ctx.state
    fault_targets = OAUTH_FAULT_TARGETS | frozenset(ctx.router.methods)

    @app.errorhandler(ControlError)
    def control_error(error: ControlError) -> Response:
        return json_response({"error": error.message}, error.status)

    @app.get("/_control/health")
    def health() -> Response:
        return json_response({"ok": True})

    @app.get("/_control/app-link")
    def app_link() -> Response:
        # Stands in for the mobile app's deep link: records which result reached "the app".
        with state.lock:
            state.app_link_visits.append(dict(request.args))
        return Response(
            "<!doctype html><title>App</title><p id='app'>app opened</p>", mimetype="text/html"
        )

    @app.get("/_control/app-link/visits")
    def app_link_visits() -> Response:
        with state.lock:
            return json_response({"visits": list(state.app_link_visits)})

    @app.post("/_control/reset")
    def reset() -> Response:
        with state.lock:
            state.reset()
        return json_response({"ok": True})

    @app.post("/_control/users")
    def add_user() -> Response:
        body = _body()
        email = _required(body, "email", str)
        with state.lock:
            try:
                user = state.add_user(
                    email, _optional(body, "name", str), _optional(body, "sub", str)
                )
            except ValueError as error:
                raise ControlError(str(error), 409) from None
            return json_response(user.to_json(), 201)

    @app.get("/_control/users")
    def list_users() -> Response:
        with state.lock:
            return json_response({"users": [u.to_json() for u in state.users.values()]})

    @app.post("/_control/clients")
    def add_client() -> Response:
        body = _body()
        redirect_uris = _required(body, "redirect_uris", list)
        if not all(isinstance(uri, str) for uri in redirect_uris):
            raise ControlError("redirect_uris must be a list of strings")
        client = OAuthClient(
            client_id=_required(body, "client_id", str),
            client_secret=_required(body, "client_secret", str),
            redirect_uris=tuple(redirect_uris),
        )
        with state.lock:
            state.clients[client.client_id] = client
            if state.primary_client_id is None:
                state.primary_client_id = client.client_id
        return json_response(client.to_json(), 201)

    @app.post("/_control/service-accounts")
    def add_service_account() -> Response:
        try:
            account = parse_service_account(_body())
        except ValueError as error:
            raise ControlError(str(error)) from None
        with state.lock:
            state.service_accounts[account.client_email] = account
        return json_response(account.to_json(), 201)

    @app.get("/_control/service-accounts")
    def list_service_accounts() -> Response:
        with state.lock:
            accounts = [a.to_json() for a in state.service_accounts.values()]
        return json_response({"service_accounts": accounts})

    @app.get("/_control/clients")
    def list_clients() -> Response:
        with state.lock:
            return json_response({"clients": [c.to_json() for c in state.clients.values()]})

    @app.get("/_control/calls")
    def list_calls() -> Response:
        api = request.args.get("api")
        method = request.args.get("method")
        with state.lock:
            calls = [
                c.to_json()
                for c in state.calls
                if (not api or c.api == api) and (not method or c.method == method)
            ]
        return json_response({"calls": calls})

    @app.delete("/_control/calls")
    def clear_calls() -> Response:
        with state.lock:
            state.calls.clear()
        return json_response({"ok": True})

    @app.post("/_control/faults")
    def add_fault() -> Response:
        fault = _parse_fault(_body(), fault_targets)
        with state.lock:
            return json_response(state.add_fault(fault).to_json(), 201)

    @app.get("/_control/faults")
    def list_faults() -> Response:
        with state.lock:
            return json_response({"faults": [f.to_json() for f in state.faults]})

    @app.delete("/_control/faults")
    def clear_faults() -> Response:
        with state.lock:
            state.faults.clear()
        return json_response({"ok": True})

    @app.post("/_control/revoke_user")
    def revoke_user() -> Response:
        body = _body()
        with state.lock:
            user = _find_user(state, body)
            clients = [client for sub, client in list(state.grants) if sub == user.sub]
            # Grants may already be gone while tokens of a consented code still live.
            clients += [t.client_id for t in state.refresh_tokens.values() if t.sub == user.sub]
            for client_id in set(clients):
                state.revoke_grant(user.sub, client_id)
            return json_response({"revoked_clients": sorted(set(clients))})

    @app.post("/_control/expire_access_tokens")
    def expire_access_tokens() -> Response:
        sub = _optional(_body(), "sub", str)
        with state.lock:
            now = state.now()
            expired = 0
            for token in state.access_tokens.values():
                if (sub is None or token.sub == sub) and token.expires_at > now:
                    token.expires_at = now
                    expired += 1
        return json_response({"expired": expired})

    @app.get("/_control/grants")
    def list_grants() -> Response:
        with state.lock:
            return json_response({"grants": _grants_of(state, request.args.get("sub"))})

    @app.post("/_control/server_auth_code")
    def server_auth_code() -> Response:
        body = _body()
        scopes_raw = _required(body, "scopes", list)
        scopes = parse_scope_param(" ".join(str(s) for s in scopes_raw))
        unknown = [s for s in scopes if s not in ctx.known_scopes]
        if unknown or not scopes:
            raise ControlError(f"scopes must be known and non-empty (unknown: {unknown})")
        with state.lock:
            user = _find_user(state, body)
            client_id = _optional(body, "client_id", str) or state.primary_client_id
            if client_id is None or client_id not in state.clients:
                raise ControlError(f"unknown client {client_id}", 404)
            code = create_auth_code(
                state,
                client_id=client_id,
                sub=user.sub,
                # Native sign-in codes are exchanged with an empty redirect_uri.
                redirect_uri="",
                scopes=frozenset(scopes),
                offline=True,
                force_refresh_token=bool(_optional(body, "force_refresh_token", bool)),
                # The nonce the app passed to Google Sign-In; it comes back in the ID token.
                nonce=_optional(body, "nonce", str),
            )
            return json_response({"code": code.code, "client_id": client_id, "sub": user.sub})

    register_bulk_routes(app, ctx, _body)

    for module in ctx.registry.modules:
        for index, route in enumerate(module.control_routes):
            view: Callable[..., Response] = _module_view(ctx, module, route)
            app.add_url_rule(
                f"/_control/{module.name}{route.rule}",
                endpoint=f"control_{module.name}_{index}",
                view_func=view,
                methods=list(route.methods),
            )
