"""Fake implementations of Google REST API methods, one module per API.

To add an API, write a module with an `ApiModule` and list it in `API_MODULES`.
"""

from __future__ import annotations

from typing import Any

from devstack.fake_google.apis import calendar, drive, fcm, gmail, userinfo
from devstack.fake_google.registry import ApiModule

API_MODULES: tuple[ApiModule[Any], ...] = (
    userinfo.module,
    calendar.module,
    gmail.module,
    drive.module,
    fcm.module,
)
