"""The caller's devices: one record per app install, holding its current FCM token.

A device is keyed by the install id the app generates. Registering again refreshes it
(and replaces a rotated token); a token registered under another device id moves there, so
neither a device nor a token is ever stored twice. Views never show a token in full.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import AppError, ErrorCode

Platform = Literal["ios", "android"]

DEVICE_ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
# FCM registration tokens are URL-safe base64 with ':' separators, about 150-250 characters.
FCM_TOKEN_PATTERN = r"^[A-Za-z0-9_:.-]{32,4096}$"  # noqa: S105 - a pattern, not a secret
# BCP 47 language tag: a language, then script/region/variant subtags.
LOCALE_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"
_PRINTABLE = r"^[\x20-\x7e]+$"


def token_hash(token: str) -> str:
    """The id of a token's index document: it never stores the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_fingerprint(token: str) -> str:
    """What views show instead of the token: enough for the app to recognise its own."""
    return token_hash(token)[:12]


class DeviceRegistration(BaseModel):
    """Body of ``PUT /v1/devices/{device_id}``."""

    model_config = ConfigDict(defer_build=True, extra="forbid", strict=True)

    fcm_token: str = Field(pattern=FCM_TOKEN_PATTERN)
    platform: Platform
    os_version: str = Field(min_length=1, max_length=32, pattern=_PRINTABLE)
    app_version: str = Field(min_length=1, max_length=32, pattern=_PRINTABLE)
    model: str = Field(min_length=1, max_length=64, pattern=_PRINTABLE)
    locale: str = Field(max_length=35, pattern=LOCALE_PATTERN)
    # Stored only when the app sends it (the user allowed tracking).
    advertising_id: str | None = Field(
        default=None,
        pattern=r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$",
    )


@dataclass(frozen=True)
class Device:
    """A stored device, token included (server side only)."""

    device_id: str
    token: str
    platform: Platform
    os_version: str
    app_version: str
    model: str
    locale: str
    created_at: datetime
    last_seen_at: datetime
    advertising_id: str | None = None

    @property
    def token_hash(self) -> str:
        """The id of this device's token index document."""
        return token_hash(self.token)

    def is_stale(self, now: datetime, stale_after: timedelta) -> bool:
        """True when the app has not registered this device for ``stale_after``."""
        return now - self.last_seen_at > stale_after


class DeviceView(BaseModel):
    """A device as the API shows it: the token only as a fingerprint."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    device_id: str
    platform: Platform
    os_version: str
    app_version: str
    model: str
    locale: str
    token_fingerprint: str
    created_at: datetime
    last_seen_at: datetime

    @classmethod
    def of(cls, device: Device) -> DeviceView:
        """The view of a stored device."""
        return cls(
            device_id=device.device_id,
            platform=device.platform,
            os_version=device.os_version,
            app_version=device.app_version,
            model=device.model,
            locale=device.locale,
            token_fingerprint=token_fingerprint(device.token),
            created_at=device.created_at,
            last_seen_at=device.last_seen_at,
        )


class DeviceList(BaseModel):
    """The response of ``GET /v1/devices``."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    devices: list[DeviceView]


class DeviceStore(Protocol):
    """Port: devices and their token index, each method one transaction."""

    def upsert(self, uid: str, device: Device) -> tuple[Device, bool]:
        """Store the device (moving its token from any other device); (stored, created)."""
        ...

    def of_user(self, uid: str) -> list[Device]:
        """The user's devices."""
        ...

    def delete(
        self,
        uid: str,
        device_id: str,
        *,
        token_hash: str | None = None,
        seen_before: datetime | None = None,
    ) -> bool:
        """Delete a device and its token index; with ``token_hash`` only while it still holds
        that token, with ``seen_before`` only while it was last seen before then."""
        ...

    def stale(self, cutoff: datetime, limit: int) -> list[tuple[str, str]]:
        """(uid, device id) of devices last seen before ``cutoff``, oldest first."""
        ...


class DevicesService:
    """Register, list, delete and prune devices."""

    def __init__(self, store: DeviceStore, stale_after: timedelta) -> None:
        self._store = store
        self.stale_after = stale_after

    def register(
        self, uid: str, device_id: str, body: DeviceRegistration, now: datetime
    ) -> tuple[DeviceView, bool]:
        """Register or refresh a device; returns its view and whether it is new."""
        device = Device(
            device_id=device_id,
            token=body.fcm_token,
            platform=body.platform,
            os_version=body.os_version,
            app_version=body.app_version,
            model=body.model,
            locale=body.locale,
            created_at=now,
            last_seen_at=now,
            advertising_id=body.advertising_id,
        )
        stored, created = self._store.upsert(uid, device)
        return DeviceView.of(stored), created

    def listing(self, uid: str) -> DeviceList:
        """The user's devices, most recently seen first."""
        devices = sorted(self._store.of_user(uid), key=lambda d: d.last_seen_at, reverse=True)
        return DeviceList(devices=[DeviceView.of(device) for device in devices])

    def delete(self, uid: str, device_id: str) -> None:
        """Forget a device of the user (nothing happens when it does not exist)."""
        self._store.delete(uid, device_id)

    def prune_stale(self, now: datetime, limit: int = 500) -> int:
        """Delete up to ``limit`` devices not seen for ``stale_after`` (the ``prune``
        maintenance task, once per tick); returns how many were deleted."""
        cutoff = now - self.stale_after
        stale = self._store.stale(cutoff, limit)
        for uid, device_id in stale:
            # The app may register the device again meanwhile: then it stays.
            self._store.delete(uid, device_id, seen_before=cutoff)
        return len(stale)


def check_device_id(device_id: str) -> str:
    """The device id from the path, or a 400 naming it."""
    if not re.match(DEVICE_ID_PATTERN, device_id):
        raise AppError(
            ErrorCode.INVALID_REQUEST,
            "device_id must be 8-64 letters, digits, '-' or '_'.",
            field="device_id",
        )
    return device_id
