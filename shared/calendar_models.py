"""The Calendar API's contract: request and response models, bounded and strict.

Requests forbid unknown fields and bound every size; ids are checked for bounded length and
safe characters before they reach Google. Responses are what the app receives (snake_case);
``shared.services.calendar`` builds them tolerantly (a Google value they cannot hold is
dropped, never an error).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

# Re-exported: the Calendar routes validate path ids with it.
from shared.calendar_ids import CALENDAR_ID_PATTERN as CALENDAR_ID_PATTERN

# Any id Google gives: events we create are base32hex, but invitations and imports carry
# others (`_60q30c1g…`), instances add `_<original start>` and a split series `_R<start>`.
# Checked only for what our side needs: bounded, URL-unreserved characters (safe in a path
# segment; googleapiclient still escapes it), never `.`/`..` (path dot-segments), which
# also keeps it a valid Firestore document id.
EVENT_ID_PATTERN = r"^(?!\.{1,2}$)[A-Za-z0-9._~-]{1,1024}$"
# Ids a client may choose for a new event: Google accepts only base32hex, 5-1024 chars.
NEW_EVENT_ID_PATTERN = r"^[a-v0-9]{5,1024}$"
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9._:-]{8,128}$"
ETAG_PATTERN = r'^(W/)?"?[A-Za-z0-9+/=._-]{1,128}"?$'
PAGE_TOKEN_PATTERN = r"^[A-Za-z0-9_\-=.+/~]{1,2048}$"  # noqa: S105 - a pattern
EMAIL_PATTERN = r"^[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63}){1,8}$"
_RFC3339 = re.compile(
    r"^(19\d\d|2[01]\d\d|2200)-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$", re.I
)
_DATE = re.compile(r"^(19\d\d|2[01]\d\d|2200)-\d\d-\d\d$")
_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$")
MAX_PAGE_SIZE = 250
DEFAULT_PAGE_SIZE = 50

SendUpdates = Literal["all", "externalOnly", "none"]


def _rfc3339(value: Any) -> Any:
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 date-time with an offset, years 1900-2200")
    return value


def _iso_date(value: Any) -> Any:
    if not isinstance(value, str) or not _DATE.match(value):
        raise ValueError("must be a date YYYY-MM-DD, years 1900-2200")
    return value


@functools.cache
def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _time_zone(value: Any) -> Any:
    if not isinstance(value, str) or len(value) > 64 or not _ZONE_NAME.match(value):
        raise ValueError("must be an IANA time zone name like Asia/Seoul")
    if not _known_zone(value):
        raise ValueError("is not a known IANA time zone")
    return value


def _clamp_page_size(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,9}", value):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("must be an integer")
    return min(max(value, 1), MAX_PAGE_SIZE)


Rfc3339 = Annotated[dt.datetime, BeforeValidator(_rfc3339)]
IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
TimeZoneName = Annotated[str, BeforeValidator(_time_zone)]
# Out-of-range sizes are clamped, not refused, so the schema states no bounds.
PageSize = Annotated[int, BeforeValidator(_clamp_page_size)]


class Strict(BaseModel):
    """Requests: unknown fields are errors. Every model of ours defers its build to first
    use, so an instance builds only the models its requests use (cold start)."""

    model_config = ConfigDict(defer_build=True, extra="forbid")


# Requests


class EventTimeIn(Strict):
    """An all-day `date`, or a `date_time` with its UTC offset (and optionally its zone)."""

    date: IsoDate | None = None
    date_time: Rfc3339 | None = None
    time_zone: TimeZoneName | None = Field(
        default=None, description="IANA name; recurring events repeat in this zone."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> EventTimeIn:
        if (self.date is None) == (self.date_time is None):
            raise ValueError("give exactly one of date (all-day) or date_time")
        if self.date is not None and self.time_zone is not None:
            raise ValueError("time_zone applies to date_time only")
        return self

    def instant(self) -> dt.datetime:
        """A comparable instant (all-day dates at UTC midnight)."""
        if self.date_time is not None:
            return self.date_time
        assert self.date is not None
        return dt.datetime.combine(self.date, dt.time(0), tzinfo=dt.UTC)


class AttendeeIn(Strict):
    """A guest to invite."""

    email: str = Field(max_length=254, pattern=EMAIL_PATTERN)
    display_name: str | None = Field(default=None, max_length=256)
    optional: bool = False


class ReminderOverride(Strict):
    """One reminder before the event."""

    method: Literal["email", "popup"]
    minutes: int = Field(ge=0, le=40320)


class RemindersIn(Strict):
    """The calendar's default reminders, or up to five of the event's own."""

    use_default: bool
    overrides: list[ReminderOverride] = Field(default_factory=list, max_length=5)

    @model_validator(mode="after")
    def _default_or_overrides(self) -> RemindersIn:
        if self.use_default and self.overrides:
            raise ValueError("use_default and overrides exclude each other")
        return self


RecurrenceLine = Annotated[
    str, Field(max_length=512, pattern=r"^(RRULE|EXRULE|RDATE|EXDATE)[:;][ -~]{1,500}$")
]
Visibility = Literal["default", "public", "private", "confidential"]
Transparency = Literal["opaque", "transparent"]


def _check_range(start: EventTimeIn, end: EventTimeIn) -> None:
    if (start.date is None) != (end.date is None):
        raise ValueError("start and end must both be all-day (date) or both timed (date_time)")
    if end.instant() <= start.instant():
        raise ValueError("end must be after start")


class EventFields(Strict):
    """Fields shared by create and update."""

    summary: str | None = Field(default=None, max_length=1024)
    description: str | None = Field(default=None, max_length=8192)
    location: str | None = Field(default=None, max_length=1024)
    recurrence: list[RecurrenceLine] | None = Field(default=None, max_length=10)
    attendees: list[AttendeeIn] | None = Field(default=None, max_length=100)
    reminders: RemindersIn | None = None
    visibility: Visibility | None = None
    transparency: Transparency | None = None
    color_id: str | None = Field(default=None, pattern=r"^([1-9]|1[01])$")
    status: Literal["confirmed", "tentative"] | None = None


class EventCreate(EventFields):
    """Body of creating an event."""

    id: str | None = Field(
        default=None,
        pattern=NEW_EVENT_ID_PATTERN,
        description="Optional client-chosen id (base32hex); a retried create returns the event.",
    )
    start: EventTimeIn
    end: EventTimeIn
    add_conference: bool = Field(default=False, description="Attach a Google Meet link.")

    @model_validator(mode="after")
    def _range(self) -> EventCreate:
        _check_range(self.start, self.end)
        return self


class EventPatch(EventFields):
    """Body of PATCH: only the fields given change; null clears summary/description/location."""

    start: EventTimeIn | None = None
    end: EventTimeIn | None = None

    @model_validator(mode="after")
    def _range(self) -> EventPatch:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        if (self.start is None) != (self.end is None):
            raise ValueError("start and end change together")
        if self.start is not None and self.end is not None:
            _check_range(self.start, self.end)
        for name in self.model_fields_set - {"summary", "description", "location"}:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class EventListQuery(Strict):
    """Query of listing events."""

    time_min: Rfc3339 | None = Field(default=None, description="Events ending after this.")
    time_max: Rfc3339 | None = Field(default=None, description="Events starting before this.")
    page_size: PageSize = Field(
        default=DEFAULT_PAGE_SIZE, description=f"Clamped to 1..{MAX_PAGE_SIZE}."
    )
    page_token: str | None = Field(default=None, pattern=PAGE_TOKEN_PATTERN)
    q: str | None = Field(default=None, min_length=1, max_length=256)
    single_events: bool = Field(
        default=True, description="Expand recurring events into instances (false: masters)."
    )
    order_by: Literal["start_time", "updated"] | None = None
    updated_min: Rfc3339 | None = None
    show_deleted: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> EventListQuery:
        if self.time_min and self.time_max and self.time_max <= self.time_min:
            raise ValueError("time_max must be after time_min")
        if self.order_by == "start_time" and not self.single_events:
            raise ValueError("order_by=start_time needs single_events=true")
        return self


class InstancesQuery(Strict):
    """Query of listing the instances of a recurring event."""

    time_min: Rfc3339 | None = None
    time_max: Rfc3339 | None = None
    page_size: PageSize = DEFAULT_PAGE_SIZE
    page_token: str | None = Field(default=None, pattern=PAGE_TOKEN_PATTERN)


class WriteQuery(Strict):
    """Query of create, update and delete: whom Google emails about the change."""

    send_updates: SendUpdates = "none"


class NoQuery(Strict):
    """Routes that take no query parameters."""


# Responses


class EventTime(BaseModel):
    """A start or end: `date` for all-day events, else `date_time` (and `time_zone`)."""

    model_config = ConfigDict(defer_build=True)

    date: dt.date | None = None
    date_time: dt.datetime | None = None
    time_zone: str | None = None


class Attendee(BaseModel):
    """A guest and their answer."""

    model_config = ConfigDict(defer_build=True)

    email: str
    display_name: str | None = None
    optional: bool | None = None
    organizer: bool | None = None
    response_status: str | None = None


class Reminder(BaseModel):
    """One reminder of an event."""

    model_config = ConfigDict(defer_build=True)

    method: str
    minutes: int


class Reminders(BaseModel):
    """The event's reminders."""

    model_config = ConfigDict(defer_build=True)

    use_default: bool
    overrides: list[Reminder] = []


class Event(BaseModel):
    """An event as the app sees it; `etag` is also sent as the `ETag` header."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    id: str
    status: str
    etag: str | None = None
    summary: str | None = None
    description: str | None = None
    location: str | None = None
    start: EventTime | None = None
    end: EventTime | None = None
    all_day: bool = False
    recurrence: list[str] | None = None
    recurring_event_id: str | None = None
    original_start_time: EventTime | None = None
    attendees: list[Attendee] = []
    reminders: Reminders | None = None
    visibility: str | None = None
    transparency: str | None = None
    color_id: str | None = None
    organizer_email: str | None = None
    html_link: str | None = None
    hangout_link: str | None = None
    created: dt.datetime | None = None
    updated: dt.datetime | None = None


class EventPage(BaseModel):
    """One page of events; pass `next_page_token` back as `page_token` for the next."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    items: list[Event]
    next_page_token: str | None = None
    time_zone: str | None = None


class Calendar(BaseModel):
    """A calendar in the user's list."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    id: str
    summary: str | None = None
    description: str | None = None
    time_zone: str | None = None
    primary: bool = False
    access_role: str | None = None
    background_color: str | None = None


class CalendarList(BaseModel):
    """The user's calendars."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    items: list[Calendar]
