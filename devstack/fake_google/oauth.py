"""Google's OAuth endpoints: consent page, token, revoke, signing certificates and ID tokens."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, request

from devstack.fake_google.config import OAuthClient
from devstack.fake_google.consent_page import (
    APPROVE_PATH,
    render_consent_page,
    render_error_page,
)
from devstack.fake_google.context import ServerContext
from devstack.fake_google.errors import ConsentPageError, OAuthError
from devstack.fake_google.faults import apply_fault, oauth_fault_body
from devstack.fake_google.responses import json_response
from devstack.fake_google.scopes import (
    IDENTITY_SCOPES,
    OPENID,
    USERINFO_EMAIL,
    USERINFO_PROFILE,
    format_scopes,
    parse_scope_param,
)
from devstack.fake_google.service_accounts import JWT_BEARER, redeem_assertion
from devstack.fake_google.signing import b64url_sha256_half
from devstack.fake_google.state import (
    ACCESS_TOKEN_LIFETIME_SECONDS,
    AUTH_CODE_LIFETIME_SECONDS,
    AuthCode,
    CallRecord,
    FakeState,
    FakeUser,
    loggable_query,
)

AUTHORIZE_PATH = "/o/oauth2/v2/auth"
ID_TOKEN_LIFETIME_SECONDS = 3600
_PROMPT_VALUES = frozenset({"none", "consent", "select_account"})
_CODE_CHALLENGE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")


@dataclass(frozen=True)
class AuthorizeRequest:
    """A validated `GET /o/oauth2/v2/auth` request."""

    client: OAuthClient
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    offline: bool
    include_granted_scopes: bool
    prompt: frozenset[str]
    code_challenge: str | None
    nonce: str | None
    login_hint: str | None


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise ConsentPageError("invalid_request", f"Missing required parameter: {name}")
    return value


def parse_authorize_request(
    params: Mapping[str, str], state: FakeState, known_scopes: frozenset[str]
) -> AuthorizeRequest:
    """Validate the authorize parameters as strictly as Google; errors become an error page."""
    client_id = _required(params, "client_id")
    client = state.clients.get(client_id)
    if client is None:
        raise ConsentPageError("invalid_client", "The OAuth client was not found.")
    redirect_uri = _required(params, "redirect_uri")
    if redirect_uri not in client.redirect_uris:
        raise ConsentPageError(
            "redirect_uri_mismatch",
            f"You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 "
            f"policy. redirect_uri={redirect_uri} is not registered for this client.",
        )
    response_type = _required(params, "response_type")
    if response_type != "code":
        raise ConsentPageError(
            "unsupported_response_type", f"Invalid response_type: {response_type}"
        )
    scopes = parse_scope_param(_required(params, "scope"))
    unknown = [s for s in scopes if s not in known_scopes]
    if unknown:
        raise ConsentPageError(
            "invalid_scope", f"Some requested scopes were invalid. {{invalid={unknown}}}"
        )
    access_type = params.get("access_type", "online") or "online"
    if access_type not in ("online", "offline"):
        raise ConsentPageError("invalid_request", f"Invalid access_type: {access_type}")
    include_granted = params.get("include_granted_scopes", "false") or "false"
    if include_granted not in ("true", "false"):
        raise ConsentPageError(
            "invalid_request", f"Invalid include_granted_scopes: {include_granted}"
        )
    prompt = frozenset(params.get("prompt", "").split())
    if not prompt <= _PROMPT_VALUES or ("none" in prompt and len(prompt) > 1):
        raise ConsentPageError("invalid_request", f"Invalid prompt: {params.get('prompt')}")
    code_challenge = params.get("code_challenge") or None
    method = params.get("code_challenge_method") or None
    if code_challenge is None and method is not None:
        raise ConsentPageError("invalid_request", "code_challenge_method without code_challenge")
    if code_challenge is not None:
        # An absent method means `plain`, which this fake refuses on purpose.
        if method != "S256":
            raise ConsentPageError(
                "invalid_request", f"Unsupported code_challenge_method: {method or 'plain'}"
            )
        if not _CODE_CHALLENGE.match(code_challenge):
            raise ConsentPageError("invalid_request", "Invalid code_challenge.")
    return AuthorizeRequest(
        client=client,
        redirect_uri=redirect_uri,
        scopes=tuple(scopes),
        state=params.get("state"),
        offline=access_type == "offline",
        include_granted_scopes=include_granted == "true",
        prompt=prompt,
        code_challenge=code_challenge,
        nonce=params.get("nonce") or None,
        login_hint=params.get("login_hint") or None,
    )


def create_auth_code(
    state: FakeState,
    *,
    client_id: str,
    sub: str,
    redirect_uri: str,
    scopes: frozenset[str],
    offline: bool,
    force_refresh_token: bool,
    code_challenge: str | None = None,
    nonce: str | None = None,
) -> AuthCode:
    """Mint a single-use code (10 minutes) and record the consent in the user's grant."""
    code = AuthCode(
        # Real codes start with "4/0" and contain a slash, which catches missing URL-decoding.
        code="4/0fake-" + secrets.token_urlsafe(32),
        client_id=client_id,
        sub=sub,
        redirect_uri=redirect_uri,
        scopes=scopes,
        offline=offline,
        force_refresh_token=force_refresh_token,
        code_challenge=code_challenge,
        nonce=nonce,
        expires_at=state.now() + AUTH_CODE_LIFETIME_SECONDS,
    )
    state.codes[code.code] = code
    state.record_grant(sub, client_id, scopes)
    return code


def mint_id_token(
    ctx: ServerContext,
    user: FakeUser,
    client_id: str,
    scopes: frozenset[str],
    access_token: str,
    nonce: str | None,
) -> str:
    """An RS256 ID token with the claims Google includes for these scopes."""
    now = int(ctx.state.now())
    claims: dict[str, Any] = {
        "iss": ctx.config.issuer,
        "azp": client_id,
        "aud": client_id,
        "sub": user.sub,
        "at_hash": b64url_sha256_half(access_token),
        "iat": now,
        "exp": now + ID_TOKEN_LIFETIME_SECONDS,
    }
    if USERINFO_EMAIL in scopes:
        claims["email"] = user.email
        claims["email_verified"] = True
    if USERINFO_PROFILE in scopes:
        claims["name"] = user.name
        claims["given_name"] = user.given_name
        claims["family_name"] = user.family_name
        claims["picture"] = user.picture
    if nonce is not None:
        claims["nonce"] = nonce
    return ctx.signing_key.sign_jwt(claims)


def _with_query(uri: str, params: dict[str, str]) -> str:
    parts = urllib.parse.urlsplit(uri)
    extra = urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urllib.parse.urlunsplit(parts._replace(query=query))


def _redirect(auth: AuthorizeRequest, params: dict[str, str]) -> Response:
    if auth.state is not None:
        params["state"] = auth.state
    return Response(status=302, headers={"Location": _with_query(auth.redirect_uri, params)})


def _error_page(error: ConsentPageError) -> Response:
    return Response(
        render_error_page(error.error, error.description),
        status=error.status,
        content_type="text/html; charset=utf-8",
    )


def _code_redirect(
    state: FakeState, auth: AuthorizeRequest, user: FakeUser, granted: frozenset[str]
) -> Response:
    code = create_auth_code(
        state,
        client_id=auth.client.client_id,
        sub=user.sub,
        redirect_uri=auth.redirect_uri,
        scopes=granted,
        offline=auth.offline,
        force_refresh_token="consent" in auth.prompt,
        code_challenge=auth.code_challenge,
        nonce=auth.nonce,
    )
    return _redirect(auth, {"code": code.code, "scope": format_scopes(granted)})


def _hinted_user(state: FakeState, login_hint: str | None) -> FakeUser | None:
    if login_hint is None:
        return None
    return state.users.get(login_hint) or state.find_user_by_email(login_hint)


def _silent_authorize(state: FakeState, auth: AuthorizeRequest) -> Response:
    """`prompt=none`: succeed only when the hinted (or only) user already consented."""
    users = list(state.users.values())
    user = _hinted_user(state, auth.login_hint) or (users[0] if len(users) == 1 else None)
    if user is None:
        return _redirect(auth, {"error": "login_required"})
    grant = state.grants.get((user.sub, auth.client.client_id))
    if grant is None or not set(auth.scopes) <= grant.scopes:
        return _redirect(auth, {"error": "consent_required"})
    granted = frozenset(grant.scopes if auth.include_granted_scopes else auth.scopes)
    return _code_redirect(state, auth, user, granted)


def _approve(state: FakeState, auth: AuthorizeRequest, form: Mapping[str, Any]) -> Response:
    """Turn the submitted consent form into the redirect back to the client."""
    action = form.get("action")
    if action == "cancel":
        return _redirect(auth, {"error": "access_denied"})
    if action != "allow":
        raise ConsentPageError("invalid_request", f"Unknown action: {action}")
    if not state.users:
        raise ConsentPageError("no_accounts", "The fake Google server has no users.")
    user = state.users.get(form.get("user") or "")
    if user is None:
        raise ConsentPageError("invalid_request", "Choose an account.")
    ticked = set(parse_scope_param(" ".join(form.get("scopes", []))))
    if not ticked <= set(auth.scopes):
        raise ConsentPageError("invalid_scope", "Ticked scopes that were not requested.")
    granted = ticked | (IDENTITY_SCOPES & set(auth.scopes))
    if auth.include_granted_scopes:
        grant = state.grants.get((user.sub, auth.client.client_id))
        granted |= grant.scopes if grant is not None else set()
    if not granted:
        return _redirect(auth, {"error": "access_denied"})
    return _code_redirect(state, auth, user, frozenset(granted))


# Token endpoint


def _authenticate_client(state: FakeState, form: Mapping[str, str]) -> OAuthClient:
    """Client credentials from HTTP Basic or the form body, checked like Google does."""
    client_id = form.get("client_id")
    client_secret = form.get("client_secret")
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "Malformed Basic credentials.", 401) from None
        basic_id, _, basic_secret = decoded.partition(":")
        basic_id = urllib.parse.unquote(basic_id)
        if client_id and client_id != basic_id:
            raise OAuthError("invalid_request", "Conflicting client credentials.")
        client_id, client_secret = basic_id, urllib.parse.unquote(basic_secret)
    if not client_id:
        raise OAuthError("invalid_request", "Could not determine client ID from request.")
    client = state.clients.get(client_id)
    if client is None:
        raise OAuthError("invalid_client", "The OAuth client was not found.", 401)
    if not client_secret:
        raise OAuthError("invalid_request", "client_secret is missing.")
    if not secrets.compare_digest(client_secret, client.client_secret):
        raise OAuthError("invalid_client", "Unauthorized", 401)
    return client


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _redeem_code(
    ctx: ServerContext, client: OAuthClient, form: Mapping[str, str], record: CallRecord
) -> dict[str, Any]:
    state = ctx.state
    value = form.get("code")
    if not value:
        raise OAuthError("invalid_request", "Missing required parameter: code")
    code = state.codes.get(value)
    if code is None or code.client_id != client.client_id:
        raise OAuthError("invalid_grant", "Malformed auth code.")
    record.user_sub = code.sub
    if code.used:
        # RFC 6749 4.1.2: a replayed code revokes what it already issued.
        state.revoke_tokens(code.issued_tokens)
        raise OAuthError("invalid_grant", "Code was already redeemed.")
    if code.expires_at <= state.now():
        raise OAuthError("invalid_grant", "Code has expired.")
    if form.get("redirect_uri", "") != code.redirect_uri:
        raise OAuthError("redirect_uri_mismatch", "Bad Request")
    if code.code_challenge is not None:
        verifier = form.get("code_verifier")
        if not verifier:
            raise OAuthError("invalid_grant", "Missing code verifier.")
        if not secrets.compare_digest(_s256(verifier), code.code_challenge):
            raise OAuthError("invalid_grant", "Invalid code verifier.")
    user = state.users[code.sub]
    code.used = True
    wants_refresh = code.offline and (
        code.force_refresh_token or not state.has_live_refresh_token(code.sub, client.client_id)
    )
    # Refresh tokens belong to the grant: existing ones cover what the user has now consented to.
    for refresh in state.refresh_tokens.values():
        if not refresh.revoked and refresh.sub == code.sub and refresh.client_id == code.client_id:
            refresh.scopes |= code.scopes
    refresh_value = None
    if wants_refresh:
        refresh_value = state.mint_refresh_token(code.sub, client.client_id, code.scopes).value
        code.issued_tokens.append(refresh_value)
    access = state.mint_access_token(code.sub, client.client_id, code.scopes, refresh_value)
    code.issued_tokens.append(access.value)
    body: dict[str, Any] = {
        "access_token": access.value,
        "expires_in": ACCESS_TOKEN_LIFETIME_SECONDS,
        "token_type": "Bearer",
        "scope": format_scopes(code.scopes),
    }
    if OPENID in code.scopes:
        body["id_token"] = mint_id_token(
            ctx, user, client.client_id, code.scopes, access.value, code.nonce
        )
    if refresh_value is not None:
        body["refresh_token"] = refresh_value
    return body


def _refresh(
    ctx: ServerContext, client: OAuthClient, form: Mapping[str, str], record: CallRecord
) -> dict[str, Any]:
    state = ctx.state
    value = form.get("refresh_token")
    if not value:
        raise OAuthError("invalid_request", "Missing required parameter: refresh_token")
    refresh = state.live_refresh_token(value)
    if refresh is None or refresh.client_id != client.client_id:
        raise OAuthError("invalid_grant", "Token has been expired or revoked.")
    record.user_sub = refresh.sub
    scopes = frozenset(refresh.scopes)
    requested = parse_scope_param(form.get("scope"))
    if requested:
        # Down-scoping is allowed, widening is not.
        if not set(requested) <= refresh.scopes:
            raise OAuthError("invalid_scope", "Requested scopes exceed the granted scopes.")
        scopes = frozenset(requested)
    access = state.mint_access_token(refresh.sub, client.client_id, scopes, refresh.value)
    body: dict[str, Any] = {
        "access_token": access.value,
        "expires_in": ACCESS_TOKEN_LIFETIME_SECONDS,
        "token_type": "Bearer",
        "scope": format_scopes(scopes),
    }
    if OPENID in scopes:
        user = state.users[refresh.sub]
        body["id_token"] = mint_id_token(ctx, user, client.client_id, scopes, access.value, None)
    return body


def _token(ctx: ServerContext, record: CallRecord) -> dict[str, Any]:
    form = request.form
    grant_type = form.get("grant_type")
    record.grant_type = grant_type
    if grant_type == JWT_BEARER:
        # Service accounts authenticate by the assertion's signature, not a client secret.
        return redeem_assertion(
            ctx.state, form, record, ctx.known_scopes, request.url_root + "token"
        )
    client = _authenticate_client(ctx.state, form)
    record.client_id = client.client_id
    if not grant_type:
        raise OAuthError("invalid_request", "Missing required parameter: grant_type")
    if grant_type == "authorization_code":
        return _redeem_code(ctx, client, form, record)
    if grant_type == "refresh_token":
        return _refresh(ctx, client, form, record)
    raise OAuthError("unsupported_grant_type", f"Invalid grant_type: {grant_type}")


def _revoke(state: FakeState, record: CallRecord) -> None:
    value = request.values.get("token")
    if not value:
        raise OAuthError("invalid_request", "Missing required parameter: token")
    token = state.live_access_token(value) or state.live_refresh_token(value)
    if token is None:
        raise OAuthError("invalid_token", "Token expired or revoked")
    record.user_sub = token.sub
    record.client_id = token.client_id
    state.revoke_grant(token.sub, token.client_id)


# Routes


def _begin(ctx: ServerContext, method: str) -> tuple[CallRecord, Response | None]:
    """Log the call and apply any fault queued for it; a response means: answer with it."""
    with ctx.state.lock:
        record = ctx.state.start_call(
            "oauth",
            method,
            request.method,
            request.path,
            loggable_query(list(request.args.items(multi=True))),
        )
        fault = ctx.state.take_fault(method)
        if fault is not None:
            record.faulted = True
    if fault is None:
        return record, None
    response = apply_fault(fault, request.environ, oauth_fault_body)
    if response is not None:
        with ctx.state.lock:
            record.status = 0 if fault.status == 0 else response.status_code
            record.error = fault.oauth_error or "injected"
    return record, response


def register_oauth_routes(app: Flask, ctx: ServerContext) -> None:
    """Add the accounts.google.com and oauth2.googleapis.com endpoints to the app."""
    state = ctx.state

    # The older v1 path still appears as `auth_uri` in downloaded client_secret.json files.
    @app.get(AUTHORIZE_PATH)
    @app.get("/o/oauth2/auth")
    def authorize() -> Response:
        record, faulted = _begin(ctx, "oauth.authorize")
        if faulted is not None:
            return faulted
        with state.lock:
            try:
                auth = parse_authorize_request(request.args, state, ctx.known_scopes)
                record.client_id = auth.client.client_id
                if "none" in auth.prompt:
                    response = _silent_authorize(state, auth)
                else:
                    hinted = _hinted_user(state, auth.login_hint)
                    users = list(state.users.values())
                    preselected = hinted or (users[0] if users else None)
                    page = render_consent_page(
                        auth.client.client_id,
                        request.query_string.decode("ascii", "replace"),
                        users,
                        auth.scopes,
                        preselected.sub if preselected else None,
                    )
                    response = Response(page, content_type="text/html; charset=utf-8")
            except ConsentPageError as error:
                record.error = error.error
                response = _error_page(error)
            record.status = response.status_code
            return response

    @app.post(APPROVE_PATH)
    def approve() -> Response:
        record, faulted = _begin(ctx, "oauth.approve")
        if faulted is not None:
            return faulted
        form = request.form
        params = dict(urllib.parse.parse_qsl(form.get("auth_request", ""), keep_blank_values=True))
        submitted: dict[str, Any] = {
            "action": form.get("action"),
            "user": form.get("user"),
            "scopes": form.getlist("scope"),
        }
        with state.lock:
            try:
                auth = parse_authorize_request(params, state, ctx.known_scopes)
                record.client_id = auth.client.client_id
                record.user_sub = form.get("user") if form.get("action") == "allow" else None
                response = _approve(state, auth, submitted)
            except ConsentPageError as error:
                record.error = error.error
                response = _error_page(error)
            record.status = response.status_code
            return response

    @app.post("/token")
    def token() -> Response:
        record, faulted = _begin(ctx, "oauth.token")
        if faulted is not None:
            return faulted
        with state.lock:
            try:
                response = json_response(_token(ctx, record))
            except OAuthError as error:
                record.error = error.error
                response = json_response(error.to_json(), error.status)
            record.status = response.status_code
        response.headers["Cache-Control"] = "no-cache, no-store, max-age=0, must-revalidate"
        return response

    @app.post("/revoke")
    def revoke() -> Response:
        record, faulted = _begin(ctx, "oauth.revoke")
        if faulted is not None:
            return faulted
        with state.lock:
            try:
                _revoke(state, record)
                response = json_response({})
            except OAuthError as error:
                record.error = error.error
                response = json_response(error.to_json(), error.status)
            record.status = response.status_code
            return response

    @app.get("/oauth2/v1/certs")
    def certs_pem() -> Response:
        return json_response(ctx.signing_key.certs_pem(), headers=_CERTS_CACHE)

    @app.get("/oauth2/v3/certs")
    def certs_jwks() -> Response:
        return json_response(ctx.signing_key.jwks(), headers=_CERTS_CACHE)


_CERTS_CACHE = {"Cache-Control": "public, max-age=3600, must-revalidate, no-transform"}
