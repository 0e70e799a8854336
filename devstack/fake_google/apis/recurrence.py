"""RRULE expansion for the fake Calendar: FREQ DAILY/WEEKLY/MONTHLY/YEARLY with COUNT, UNTIL,
INTERVAL, BYDAY (with ordinals for MONTHLY) and BYMONTHDAY, plus EXDATE lines.

Occurrences are computed in the event's wall-clock time (its `timeZone`, or the offset of its
start), as Google does, so a weekly 09:00 meeting stays at 09:00 across a DST change.
"""

from __future__ import annotations

import calendar as calendar_module
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

_WEEKDAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}
# Rules with neither COUNT nor UNTIL are cut here, so an open-ended series stays finite.
MAX_OCCURRENCES = 1000


class RecurrenceError(ValueError):
    """A recurrence line the fake cannot parse (answered as 400 like Google)."""


@dataclass(frozen=True)
class Rule:
    """One parsed RRULE."""

    freq: str
    interval: int
    count: int | None
    until: datetime | date | None
    by_day: tuple[tuple[int, int], ...]  # (ordinal or 0, weekday)
    by_month_day: tuple[int, ...]


def parse_rule(line: str) -> Rule:
    """Parse `RRULE:FREQ=...;...`."""
    if not line.upper().startswith("RRULE:"):
        raise RecurrenceError(f"not an RRULE: {line}")
    parts: dict[str, str] = {}
    for item in line[6:].split(";"):
        key, sep, value = item.partition("=")
        if not sep:
            raise RecurrenceError(f"bad RRULE part: {item}")
        parts[key.upper()] = value.upper()
    freq = parts.get("FREQ", "")
    if freq not in ("DAILY", "WEEKLY", "MONTHLY", "YEARLY"):
        raise RecurrenceError(f"unsupported FREQ: {freq}")
    try:
        interval = int(parts.get("INTERVAL", "1"))
        count = int(parts["COUNT"]) if "COUNT" in parts else None
        by_month_day = (
            tuple(int(v) for v in parts["BYMONTHDAY"].split(",")) if ("BYMONTHDAY" in parts) else ()
        )
    except ValueError:
        raise RecurrenceError("bad number in RRULE") from None
    by_day: list[tuple[int, int]] = []
    for token in filter(None, parts.get("BYDAY", "").split(",")):
        weekday = _WEEKDAYS.get(token[-2:])
        ordinal = token[:-2]
        if weekday is None or (ordinal and not ordinal.lstrip("+-").isdigit()):
            raise RecurrenceError(f"bad BYDAY: {token}")
        by_day.append((int(ordinal) if ordinal else 0, weekday))
    if interval < 1 or (count is not None and count < 1):
        raise RecurrenceError("INTERVAL and COUNT must be positive")
    until = _parse_until(parts.get("UNTIL"))
    return Rule(freq, interval, count, until, tuple(by_day), by_month_day)


def _parse_until(value: str | None) -> datetime | date | None:
    if value is None:
        return None
    try:
        if "T" in value:
            moment = datetime.strptime(value.rstrip("Z"), "%Y%m%dT%H%M%S")
            return moment.replace(tzinfo=ZoneInfo("UTC")) if value.endswith("Z") else moment
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise RecurrenceError(f"bad UNTIL: {value}") from None


def _exdates(lines: list[str], zone: tzinfo | None) -> set[datetime | date]:
    found: set[datetime | date] = set()
    for line in lines:
        if not line.upper().startswith("EXDATE"):
            continue
        head, _, values = line.partition(":")
        tz = zone
        for param in head.split(";")[1:]:
            if param.upper().startswith("TZID="):
                tz = ZoneInfo(param[5:])
        for value in values.split(","):
            if "T" in value:
                moment = datetime.strptime(value.rstrip("Z"), "%Y%m%dT%H%M%S")
                moment = moment.replace(tzinfo=ZoneInfo("UTC") if value.endswith("Z") else tz)
                found.add(moment)
            elif value:
                found.add(datetime.strptime(value, "%Y%m%d").date())
    return found


def _month_days(year: int, month: int, start: date, rule: Rule) -> list[int]:
    last = calendar_module.monthrange(year, month)[1]
    if rule.by_day:
        days: set[int] = set()
        for ordinal, weekday in rule.by_day:
            matches = [d for d in range(1, last + 1) if date(year, month, d).weekday() == weekday]
            if ordinal == 0:
                days.update(matches)
            elif -len(matches) <= ordinal <= len(matches) and ordinal != 0:
                days.add(matches[ordinal - 1] if ordinal > 0 else matches[ordinal])
        return sorted(days)
    wanted = rule.by_month_day or (start.day,)
    return sorted({d if d > 0 else last + 1 + d for d in wanted if 1 <= abs(d) <= last})


def _candidate_dates(start: date, rule: Rule) -> Iterator[date]:
    """Dates of the series in order, ignoring COUNT/UNTIL (the caller stops)."""
    if rule.freq == "DAILY":
        day = start
        while True:
            yield day
            day += timedelta(days=rule.interval)
    elif rule.freq == "WEEKLY":
        weekdays = sorted({w for _, w in rule.by_day}) or [start.weekday()]
        week = start - timedelta(days=start.weekday())
        while True:
            for weekday in weekdays:
                day = week + timedelta(days=weekday)
                if day >= start:
                    yield day
            week += timedelta(weeks=rule.interval)
    else:
        year, month = start.year, start.month
        while True:
            months = [month] if rule.freq == "MONTHLY" else [start.month]
            for m in months:
                for d in _month_days(year, m, start, rule):
                    day = date(year, m, d)
                    if day >= start:
                        yield day
            if rule.freq == "MONTHLY":
                month += rule.interval
                year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
            else:
                year += rule.interval
            if year > start.year + 200:
                return


def occurrences(
    start: datetime | date, lines: list[str], zone: tzinfo | None = None
) -> Iterator[datetime | date]:
    """Start times of every occurrence (dates for all-day events), in order.

    `start` is timezone-aware for timed events; `zone` is the wall-clock zone to repeat in.
    """
    rules = [parse_rule(line) for line in lines if line.upper().startswith("RRULE")]
    if not rules:
        yield start
        return
    rule = rules[0]
    excluded = _exdates(lines, zone)
    local = start.astimezone(zone) if isinstance(start, datetime) and zone is not None else start
    first_day = local.date() if isinstance(local, datetime) else local
    for produced, day in enumerate(_candidate_dates(first_day, rule), start=1):
        if isinstance(local, datetime):
            wall = datetime.combine(day, local.timetz().replace(tzinfo=None))
            moment: datetime | date = wall.replace(tzinfo=zone or local.tzinfo)
        else:
            moment = day
        if not _before_until(moment, rule.until):
            return
        if moment not in excluded:
            yield moment
        if (rule.count is not None and produced >= rule.count) or produced >= MAX_OCCURRENCES:
            return


def _before_until(moment: datetime | date, until: datetime | date | None) -> bool:
    if until is None:
        return True
    if isinstance(moment, datetime):
        if isinstance(until, datetime):
            limit = until if until.tzinfo else until.replace(tzinfo=moment.tzinfo)
            return moment <= limit
        return moment.date() <= until
    return moment <= (until.date() if isinstance(until, datetime) else until)
