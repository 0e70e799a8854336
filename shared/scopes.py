"""The Google scopes each feature needs: the narrowest that cover the calls it makes.

``tests/unit/test_scopes.py`` checks every method we call against the scopes the
discovery documents list for it.
"""

from __future__ import annotations

from enum import StrEnum

IDENTITY = ("openid", "email", "profile")

# Google answers the short identity scopes with their long names.
_ALIASES = {
    "https://www.googleapis.com/auth/userinfo.email": "email",
    "https://www.googleapis.com/auth/userinfo.profile": "profile",
}


class Feature(StrEnum):
    """A user-facing feature that needs its own Google consent."""

    CALENDAR = "calendar"
    GMAIL = "gmail"
    DRIVE = "drive"


FEATURE_SCOPES: dict[Feature, tuple[str, ...]] = {
    Feature.CALENDAR: (
        "https://www.googleapis.com/auth/calendar.events",
        "https://www.googleapis.com/auth/calendar.calendarlist.readonly",
    ),
    Feature.GMAIL: ("https://www.googleapis.com/auth/gmail.metadata",),
    Feature.DRIVE: ("https://www.googleapis.com/auth/drive.metadata.readonly",),
}

ALL_SCOPES: tuple[str, ...] = IDENTITY + tuple(
    scope for scopes in FEATURE_SCOPES.values() for scope in scopes
)


def normalize(scopes: str | list[str] | tuple[str, ...]) -> list[str]:
    """Granted scopes as a sorted list of canonical names."""
    items = scopes.split() if isinstance(scopes, str) else list(scopes)
    return sorted({_ALIASES.get(scope, scope) for scope in items if scope})


def granted_features(scopes: list[str]) -> list[Feature]:
    """Features whose every scope was granted."""
    held = set(normalize(scopes))
    return [feature for feature, needed in FEATURE_SCOPES.items() if held.issuperset(needed)]
