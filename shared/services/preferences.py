"""Notification preferences: categories on/off, previews, quiet hours.

Stored in ``users/{uid}`` field ``preferences`` and read by push dispatch at send time, so a
change applies to jobs already queued. During quiet hours pushes are sent data-only: no
visible notification, the app refreshes silently (nothing is deferred or lost).
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime, time
from functools import cache
from typing import Annotated, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.activity import Category
from shared.calendar_ids import CALENDAR_ID_PATTERN

_HH_MM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
CalendarId = Annotated[str, Field(max_length=300, pattern=CALENDAR_ID_PATTERN)]


@cache
def _known_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class Categories(BaseModel):
    """Which categories may push; all on unless the user turns one off."""

    model_config = ConfigDict(defer_build=True, extra="forbid", strict=True)

    mail: bool = True
    drive: bool = True
    calendar: bool = True

    def allows(self, category: Category) -> bool:
        """Whether pushes of this category are wanted (``account`` always is)."""
        return bool(getattr(self, category.value, True))


class QuietHours(BaseModel):
    """A daily window in the user's time zone; ``start`` after ``end`` spans midnight."""

    model_config = ConfigDict(defer_build=True, extra="forbid", strict=True)

    start: str = Field(description="HH:MM, 24-hour clock.")
    end: str = Field(description="HH:MM, 24-hour clock; the window ends before this minute.")
    time_zone: str = Field(max_length=64, description="IANA time zone, e.g. Asia/Seoul.")

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _HH_MM.match(value):
            raise ValueError("must be HH:MM (00:00 to 23:59)")
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if value not in _known_time_zones():
            raise ValueError("must be an IANA time zone such as Asia/Seoul")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end must differ")
        return self

    def contains(self, moment: datetime) -> bool:
        """Whether ``moment`` (timezone-aware) falls inside the window, in the user's zone."""
        local = moment.astimezone(zoneinfo.ZoneInfo(self.time_zone)).time()
        start, end = time.fromisoformat(self.start), time.fromisoformat(self.end)
        if start < end:
            return start <= local < end
        return local >= start or local < end


class Preferences(BaseModel):
    """Body and response of ``GET/PUT /v1/preferences``."""

    model_config = ConfigDict(defer_build=True, extra="forbid", strict=True)

    categories: Categories = Field(default_factory=Categories)
    preview: bool = Field(
        default=True, description="Show sender, subject or file name in the notification text."
    )
    quiet_hours: QuietHours | None = None
    notify_own_changes: bool = Field(
        default=False,
        description="Also show a notification for changes the user made themselves (by_me);"
        " off: those are pushed data-only, so the app's feed still refreshes.",
    )

    muted_calendars: list[CalendarId] = Field(
        default_factory=list,
        max_length=100,
        description="Calendar ids (as in /v1/calendars, `primary` for the primary calendar) "
        "whose changes are not pushed; they still appear in the feed.",
    )

    def allows_calendar(self, calendar_id: str) -> bool:
        """Whether changes of this calendar may push."""
        return calendar_id not in self.muted_calendars

    def is_quiet(self, now: datetime) -> bool:
        """Whether pushes at ``now`` must be data-only."""
        return self.quiet_hours is not None and self.quiet_hours.contains(now)


class PreferenceStore(Protocol):
    """Port: the stored preferences of a user."""

    def get(self, uid: str) -> Preferences | None:
        """The stored preferences, or None when the user never set any."""
        ...

    def put(self, uid: str, preferences: Preferences) -> None:
        """Replace the stored preferences."""
        ...


def read(store: PreferenceStore, uid: str) -> Preferences:
    """The user's preferences, defaults when none are stored."""
    return store.get(uid) or Preferences()
