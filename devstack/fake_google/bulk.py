"""Bulk control route for scale benchmarks: many linked Google users at once.

``POST /_control/bulk/linked_users`` ``{"prefix", "start", "count" (<= 2000), "scopes",
"token_lifetime_seconds"?}`` creates users ``{prefix}-{n}`` (email
``{prefix}.{n}@scale.example``), their grant to the primary client, a refresh token and an
access token each, and returns per user the tokens and the current cursor of each API
(Gmail historyId, Drive start page token, primary-calendar sync token), as a linked
account's first sync would have left them. It replaces thousands of consent flows.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response

from devstack.fake_google.context import ServerContext
from devstack.fake_google.responses import json_response
from devstack.fake_google.scopes import parse_scope_param

MAX_COUNT = 2000


def register_bulk_routes(app: Flask, ctx: ServerContext, body: Any) -> None:
    """Add the bulk routes; ``body`` parses and checks the JSON body (control errors)."""
    state = ctx.state

    @app.post("/_control/bulk/linked_users")
    def bulk_linked_users() -> Response:
        # Imported here: the API modules import the control module that imports this one.
        from devstack.fake_google.apis import calendar, drive, gmail

        request_body = body()
        prefix = str(request_body.get("prefix") or "scale")
        start = int(request_body.get("start") or 0)
        count = int(request_body.get("count") or 0)
        scopes = frozenset(parse_scope_param(" ".join(request_body.get("scopes") or [])))
        lifetime = int(request_body.get("token_lifetime_seconds") or 3599)
        if not 0 < count <= MAX_COUNT or not scopes or not 60 <= lifetime <= 86400:
            return json_response({"error": "count 1..2000, scopes and a sane lifetime"}, 400)
        users: list[dict[str, Any]] = []
        with state.lock:
            client_id = state.primary_client_id
            if client_id is None:
                return json_response({"error": "no OAuth client"}, 409)
            mail = state.module_data[gmail.module.name]
            files = state.module_data[drive.module.name]
            events = state.module_data[calendar.module.name]
            for n in range(start, start + count):
                user = state.add_user(f"{prefix}.{n}@scale.example", sub=f"{prefix}-{n}")
                state.record_grant(user.sub, client_id, scopes)
                refresh = state.mint_refresh_token(user.sub, client_id, scopes)
                access = state.mint_access_token(user.sub, client_id, scopes, refresh.value)
                access.expires_at = state.now() + lifetime
                primary = calendar._ensure_primary(events, user)
                users.append(
                    {
                        "sub": user.sub,
                        "email": user.email,
                        "refresh_token": refresh.value,
                        "access_token": access.value,
                        "access_expires_at": access.expires_at,
                        "gmail_history_id": str(mail.mailbox(user).history_id),
                        "drive_page_token": str(files.account(user).next_change_id),
                        "calendar_sync_token": calendar._sync_token(primary, events.seq),
                    }
                )
        return json_response({"users": users}, 201)
