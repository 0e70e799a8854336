"""Drive through the gateway: ``changes.list`` from the stored page token to
``newStartPageToken``, and the changes channel (``changes.watch``, ``channels.stop``).

Google: https://developers.google.com/workspace/drive/api/guides/manage-changes and
https://developers.google.com/workspace/drive/api/guides/push (a channel lives at most
one day for ``changes``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.adapters.google_channels import channel_body, stop_channel, watch_grant
from shared.adapters.google_gateway import GoogleGateway
from shared.google_errors import GoogleFailure
from shared.ports.sync import CursorState, SyncBatch, SyncKey
from shared.ports.watches import ChannelRequest, WatchGrant
from shared.scopes import Feature
from shared.sources.drive import FIELDS, drive_items
from shared.sources.drive_changes import bounded

_PAGE_SIZE = 100
_CHANNEL_LIFETIME = timedelta(days=1)
# https://developers.google.com/workspace/drive/api/guides/push#renew-channels: a changes
# channel lasts at most 604800 s; a minute less so the request is never out of range.
_REQUESTED_LIFETIME = timedelta(days=7) - timedelta(minutes=1)


class DriveSource:
    """Reads Drive changes since a page token; opens and stops changes channels."""

    def __init__(self, gateway: GoogleGateway) -> None:
        self._gateway = gateway

    def _call(self, uid: str, make: Any, *, resend_safe: bool = True) -> Any:
        return self._gateway.call(uid, Feature.DRIVE, make, resend_safe=resend_safe)

    def fetch(self, key: SyncKey, state: CursorState, now: datetime) -> SyncBatch:
        """One pass's reads (``_fetch``), the user's credentials read once for all of them."""
        with self._gateway.reusing_credentials():
            return self._fetch(key, state, now)

    def _fetch(self, key: SyncKey, state: CursorState, now: datetime) -> SyncBatch:
        """Every change up to the new start page token, classified against the cursor's index
        of seen files; an invalid token restarts."""
        token = state.cursor
        index = dict(state.index or {})
        items = []
        pages = 0
        try:
            while token:
                response = self._call(
                    key.uid,
                    lambda s, token=token: s.changes().list(
                        pageToken=token,
                        pageSize=_PAGE_SIZE,
                        includeItemsFromAllDrives=True,
                        supportsAllDrives=True,
                        includeRemoved=True,
                        spaces="drive",
                        fields=FIELDS,
                    ),
                )
                pages += 1
                changes = response.get("changes", [])
                items += drive_items(changes, index, state.synced_at, now)
                if response.get("newStartPageToken"):
                    token = str(response["newStartPageToken"])
                    return SyncBatch(items, token, bounded(index), notes={"pages": pages})
                token = response.get("nextPageToken")
        except GoogleFailure as failure:
            if failure.status not in (400, 404):
                raise
        # An invalid or missing page token: start again from now.
        return SyncBatch([], self._start_page_token(key.uid), notes={"page_token_reset": 1})

    def _start_page_token(self, uid: str) -> str:
        response = self._call(uid, lambda s: s.changes().getStartPageToken(supportsAllDrives=True))
        return str(response["startPageToken"])

    def start_cursor(self, key: SyncKey, now: datetime) -> CursorState:
        """``changes.getStartPageToken`` across My Drive and shared drives."""
        return CursorState(self._start_page_token(key.uid))

    def watch(self, key: SyncKey, cursor: str | None, request: ChannelRequest) -> WatchGrant:
        """``changes.watch`` from the page token ``cursor``, asking for the longest channel
        a ``changes`` resource allows (one week; the default is one hour, and Google may
        grant less: the answered ``expiration`` is what renewal follows). A weekly renewal
        instead of a daily one keeps an idle account within its Google call budget."""
        expiration = datetime.now(UTC) + _REQUESTED_LIFETIME
        body = {**channel_body(request), "expiration": str(int(expiration.timestamp() * 1000))}
        response = self._call(
            key.uid,
            lambda s: s.changes().watch(
                pageToken=cursor,
                supportsAllDrives=True,
                includeItemsFromAllDrives=True,
                body=body,
            ),
            resend_safe=False,
        )
        return watch_grant(response, _CHANNEL_LIFETIME)

    def stop(self, uid: str, channel_id: str, resource_id: str) -> None:
        """``channels.stop`` on the Drive API."""
        stop_channel(self._gateway, uid, Feature.DRIVE, channel_id, resource_id)
