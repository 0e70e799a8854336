"""Who a request was authenticated as."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    """The Firebase user a request was authenticated as."""

    uid: str
    email: str | None = None
    name: str | None = None
