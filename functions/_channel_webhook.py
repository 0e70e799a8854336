"""The HTTP endpoint behind both channel receivers (Calendar and Drive webhooks)."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.bootstrap import Container
from shared.errors import AppError, ErrorCode
from shared.http import Caller, Reply, RequestContext, Router
from shared.logs import get_logger
from shared.openapi import Operation
from shared.ports.sync import SourceKind
from shared.services.notifications import ChannelNotice

log = get_logger(__name__)

_MAX_BODY = 4096  # Google sends an empty body; anything large is not Google


class _NoBearer:
    """Channel receivers authenticate by channel secret, never by bearer token."""

    def verify(self, token: str) -> Caller:
        raise AppError(ErrorCode.UNAUTHENTICATED, "Notification rejected.")


NO_BEARER = _NoBearer()
# Authenticated by the channel's secret inside the use case, not by a bearer token.
NOTIFICATION = Operation("POST", "/", "A Google channel notification.", auth=False)


def channel_router(app: Container, kind: SourceKind) -> Router:
    """A router whose one route accepts authentic notifications of ``kind`` channels."""
    router = Router([NOTIFICATION], max_body_bytes=_MAX_BODY)

    @router.handles(NOTIFICATION.operation_id)
    def receive(ctx: RequestContext) -> Reply:
        headers = ctx.request.headers
        notice = ChannelNotice(
            channel_id=headers.get("X-Goog-Channel-ID", ""),
            token=headers.get("X-Goog-Channel-Token", ""),
            resource_id=headers.get("X-Goog-Resource-ID", ""),
            state=headers.get("X-Goog-Resource-State", ""),
        )
        outcome = app.notifications.channel_notification(kind, notice, datetime.now(UTC))
        log.info("channel notification handled", extra={"source": kind.value, "result": outcome})
        return Reply(status=200)

    return router
