"""The Channel resource Drive and Calendar share: the ``watch`` request body, Google's
answer to it, and ``channels.stop``.

https://developers.google.com/workspace/drive/api/reference/rest/v3/channels and
https://developers.google.com/workspace/calendar/api/v3/reference/channels.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.adapters.google_gateway import GoogleGateway
from shared.ports.watches import ChannelRequest, WatchGrant
from shared.scopes import Feature


def channel_body(request: ChannelRequest) -> dict[str, str]:
    """The body of a ``watch`` call for a web-hook channel."""
    return {
        "id": request.id,
        "type": "web_hook",
        "token": request.token,
        "address": request.address,
    }


def watch_grant(response: dict[str, Any], default_lifetime: timedelta) -> WatchGrant:
    """The resource id and expiration (milliseconds since the epoch) of a new channel."""
    millis = response.get("expiration")
    expires = (
        datetime.fromtimestamp(int(millis) / 1000, UTC)
        if millis
        else datetime.now(UTC) + default_lifetime
    )
    return WatchGrant(resource_id=str(response["resourceId"]), expires_at=expires)


def stop_channel(
    gateway: GoogleGateway, uid: str, feature: Feature, channel_id: str, resource_id: str
) -> None:
    """``channels.stop`` on the API of ``feature``."""
    gateway.call(
        uid,
        feature,
        lambda s: s.channels().stop(body={"id": channel_id, "resourceId": resource_id}),
    )
