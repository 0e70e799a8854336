"""The HTTP endpoint behind both channel receivers (Calendar and Drive webhooks)."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.bootstrap import Container
from shared.errors import ACCOUNT_NEEDS_USER, AppError, ErrorCode
from shared.http import Caller, Reply, RequestContext, Router
from shared.logs import get_logger
from shared.services.sync import SourceKind, SyncKey
from shared.services.webhooks import authenticate

log = get_logger(__name__)

_MAX_BODY = 4096  # Google sends an empty body; anything large is not Google


class _NoBearer:
    """Channel receivers authenticate by channel secret, never by bearer token."""

    def verify(self, token: str) -> Caller:
        raise AppError(ErrorCode.UNAUTHENTICATED, "Notification rejected.")


NO_BEARER = _NoBearer()


def channel_router(app: Container, kind: SourceKind) -> Router:
    """A router whose one route accepts authentic notifications of ``kind`` channels."""
    router = Router(max_body_bytes=_MAX_BODY)

    @router.post("/", auth=False)
    def receive(ctx: RequestContext) -> Reply:
        channel, state = authenticate(
            ctx.request.headers, kind.value, app.channels, datetime.now(UTC)
        )
        if state == "sync":
            return Reply(status=200)  # the handshake after a watch starts: nothing changed
        key = SyncKey(channel.uid, kind, channel.calendar_id)
        try:
            app.sync_runner(kind).notify(key)
        except AppError as exc:
            if exc.code not in ACCOUNT_NEEDS_USER:
                raise
            log.info(
                "notification for an account that cannot sync", extra={"error_code": exc.code.value}
            )
        return Reply(status=200)

    return router
