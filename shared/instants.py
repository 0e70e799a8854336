"""Datetimes from requests, page tokens and messages, bounded so arithmetic cannot overflow.

Python's ``datetime`` covers years 1..9999 in local time; an offset pushes the UTC instant
of ``0001-01-01T00:00:00+14:00`` below year 1, and converting, comparing or subtracting it
raises ``OverflowError`` (a 500, or a Pub/Sub retry loop). ``Instant`` accepts only
timezone-aware values and normalises them to UTC within years 1970..9998, so every later
step is safe; anything else is a validation error (400 on the API).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator

MIN_YEAR = 1970
MAX_YEAR = 9998


def to_utc(value: datetime) -> datetime:
    """``value`` in UTC, or ``ValueError`` when naive or outside years 1970..9998."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must have a time zone offset")
    try:
        converted = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError(f"must be between the years {MIN_YEAR} and {MAX_YEAR}") from None
    if not MIN_YEAR <= converted.year <= MAX_YEAR:
        raise ValueError(f"must be between the years {MIN_YEAR} and {MAX_YEAR}")
    return converted


# A pydantic field type: an aware datetime normalised to UTC, years 1970..9998.
Instant = Annotated[datetime, AfterValidator(to_utc)]
