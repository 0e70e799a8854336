"""The caller's own account: profile and the state of their Google link."""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from shared.ports.identity import Caller

LinkStatus = Literal["not_linked", "linked", "relink_required"]


class GoogleLink(BaseModel):
    """What the app needs to know about the user's Google link."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    status: LinkStatus = "not_linked"
    scopes: list[str] = []


class Profile(BaseModel):
    """The response of ``GET /v1/me``."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    uid: str
    email: str | None = None
    name: str | None = None
    google: GoogleLink


class UserRecords(Protocol):
    """Port: the stored record of a user, if any."""

    def google_link(self, uid: str) -> GoogleLink | None: ...


def get_profile(caller: Caller, users: UserRecords) -> Profile:
    """The caller's profile: identity from the token, link state from storage."""
    link = users.google_link(caller.uid) or GoogleLink()
    return Profile(uid=caller.uid, email=caller.email, name=caller.name, google=link)
