"""What the local stack runs: every function with its trigger, as deployed in production."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class FunctionSpec:
    """One deployed function: its entry point, signature type and (for events) its topic."""

    target: str
    signature: Literal["http", "cloudevent"]
    topic: str | None = None


FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec("account_api", "http"),
    FunctionSpec("calendar_api", "http"),
    FunctionSpec("oauth_callback", "http"),
    FunctionSpec("calendar_webhook", "http"),
    FunctionSpec("drive_webhook", "http"),
    FunctionSpec("gmail_receiver", "cloudevent", topic="gmail-notifications"),
    FunctionSpec("watch_maintenance", "cloudevent", topic="maintenance-ticks"),
    FunctionSpec("maintenance_worker", "cloudevent", topic="maintenance-work"),
    FunctionSpec("push_dispatch", "cloudevent", topic="push-jobs"),
)

# Topics functions publish to (push jobs) and topics that trigger functions.
TOPICS: tuple[str, ...] = tuple(
    dict.fromkeys(["push-jobs", *(spec.topic for spec in FUNCTIONS if spec.topic)])
)
