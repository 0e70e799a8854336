"""Deployment entry: exposes every function's entry point by name from one source archive.

Entry points are imported on first access, so each function instance loads only its own
module and the libraries that module uses (cold start).
"""

from __future__ import annotations

import importlib
from typing import Any

ENTRY_POINTS: dict[str, str] = {
    "account_api": "functions.account_api",
    "calendar_api": "functions.calendar_api",
    "oauth_callback": "functions.oauth_callback",
    "calendar_webhook": "functions.calendar_webhook",
    "drive_webhook": "functions.drive_webhook",
    "gmail_receiver": "functions.gmail_receiver",
    "watch_maintenance": "functions.watch_maintenance",
    "maintenance_worker": "functions.maintenance_worker",
    "push_dispatch": "functions.push_dispatch",
}


def __getattr__(name: str) -> Any:
    module_name = ENTRY_POINTS.get(name)
    if module_name is None:
        raise AttributeError(name)
    return getattr(importlib.import_module(module_name), name)


def __dir__() -> list[str]:
    return sorted(ENTRY_POINTS)
