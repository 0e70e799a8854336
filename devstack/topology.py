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
    FunctionSpec("oauth_callback", "http"),
)

TOPICS: tuple[str, ...] = tuple(spec.topic for spec in FUNCTIONS if spec.topic)
