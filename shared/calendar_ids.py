"""The shape of a Google Calendar id, without the calendar models: preferences validate
muted calendar ids with it, and a function that only reads preferences (``push_dispatch``)
need not build every Calendar model at cold start."""

from __future__ import annotations

# `primary`, or an email-like id: user calendars, `…@group.calendar.google.com`,
# `en.south_korea#holiday@group.v.calendar.google.com`.
CALENDAR_ID_PATTERN = (
    r"^(primary|[A-Za-z0-9._%+#-]{1,128}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63}){0,8})$"
)
