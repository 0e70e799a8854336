"""calendar v3: per-user calendars and events, recurring expansion, sync tokens and push channels.

Each fake user owns a `primary` calendar whose id is their email, plus any seeded through
`/_control/calendar/seed`; a user sees only their own calendars (others answer 404, as Google
does for calendars you cannot access). Every write bumps one global sequence, which gives
etags (`"<number>"`), sync tokens and the order of `updated`. Changes to a watched calendar,
through the API or through `/_control/calendar/change` ("another device"), POST an `exists`
notification to every live channel of that calendar, outside the state lock.

Control routes (under `/_control/calendar`): `POST /seed`, `POST /change`,
`POST /sync_tokens/expire`, `GET /events`, `GET /channels`,
`POST /channels/<id>/drop_next`, `POST /channels/<id>/duplicate_next`.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import secrets
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from devstack.fake_google import push
from devstack.fake_google.apis.recurrence import RecurrenceError, occurrences
from devstack.fake_google.errors import GoogleApiError
from devstack.fake_google.registry import ApiModule, ApiRequest, ControlRequest
from devstack.fake_google.state import FakeState, FakeUser

EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")  # what a client may choose on insert
# Ids Google gives events that arrive by invitation or import are not base32hex
# (e.g. `_60q30c1g…`); the control routes may create them, as "another client" would.
FOREIGN_EVENT_ID = re.compile(r"^[A-Za-z0-9_]{1,1024}$")
INSTANCE_ID = re.compile(r"^(?P<master>[A-Za-z0-9_]{1,1024})_(?P<stamp>\d{8}(T\d{6}Z)?)$")
CHANNEL_LIFETIME_MS = 7 * 24 * 3600 * 1000
DEFAULT_TIME_ZONE = "UTC"
# Fields Google computes; a client cannot set them on insert, update or patch.
_READ_ONLY = frozenset(
    {"kind", "etag", "id", "htmlLink", "created", "updated", "creator", "iCalUID", "sequence"}
)
_ETAG_BASE = 3_180_000_000_000_000

Scheduler = Callable[[Callable[[], None]], None]


@dataclass
class StoredEvent:
    """An event resource and the global sequence number of its last change."""

    resource: dict[str, Any]
    seq: int
    send_updates: str | None = None


@dataclass
class FakeCalendar:
    """One calendar of one user."""

    id: str
    owner: str
    summary: str
    time_zone: str = DEFAULT_TIME_ZONE
    primary: bool = False
    access_role: str = "owner"
    description: str | None = None
    selected: bool = True
    hidden: bool = False
    # Incremental lists show cancelled events as only id and status (the least Google
    # promises for a deleted event), to prove readers need nothing more.
    bare_cancellations: bool = False
    events: dict[str, StoredEvent] = field(default_factory=dict)
    # Bumped to invalidate every sync token issued so far (410 fullSyncRequired).
    sync_epoch: int = 0

    @property
    def zone(self) -> tzinfo:
        """The calendar's time zone."""
        return ZoneInfo(self.time_zone)

    def to_list_entry(self, seq: int) -> dict[str, Any]:
        """The calendarList entry."""
        entry: dict[str, Any] = {
            "kind": "calendar#calendarListEntry",
            "etag": _etag(seq),
            "id": self.id,
            "summary": self.summary,
            "timeZone": self.time_zone,
            "accessRole": self.access_role,
            "backgroundColor": "#9fe1e7",
            "foregroundColor": "#000000",
            "defaultReminders": [{"method": "popup", "minutes": 10}],
        }
        if self.primary:
            entry["primary"] = True
        if self.selected:
            entry["selected"] = True  # Google omits false booleans
        if self.hidden:
            entry["hidden"] = True
        if self.description:
            entry["description"] = self.description
        return entry


@dataclass
class Channel:
    """A push channel on the events of one calendar."""

    id: str
    resource_id: str
    owner: str
    calendar_id: str
    address: str
    token: str | None
    expiration_ms: int
    resource_uri: str
    message_number: int = 0
    stopped: bool = False
    drop_next: int = 0
    duplicate_next: int = 0
    deliveries: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The channel as the control API shows it."""
        return {
            "id": self.id,
            "resourceId": self.resource_id,
            "owner": self.owner,
            "calendarId": self.calendar_id,
            "address": self.address,
            "token": self.token,
            "expiration": str(self.expiration_ms),
            "messageNumber": self.message_number,
            "stopped": self.stopped,
            "deliveries": list(self.deliveries),
        }


@dataclass
class CalendarData:
    """Calendars of every user, the global change sequence and the push channels."""

    calendars: dict[tuple[str, str], FakeCalendar] = field(default_factory=dict)
    seq: int = 0
    channels: dict[str, Channel] = field(default_factory=dict)

    def bump(self) -> int:
        """Advance the global sequence (one per write)."""
        self.seq += 1
        return self.seq


module: ApiModule[CalendarData] = ApiModule("calendar", CalendarData)


# Helpers


def _etag(seq: int) -> str:
    return f'"{_ETAG_BASE + seq}"'


def _rfc3339(moment: float) -> str:
    stamp = datetime.fromtimestamp(moment, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def _encode_token(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _decode_token(token: str) -> dict[str, Any] | None:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):
        return None
    return decoded if isinstance(decoded, dict) else None


def _new_id() -> str:
    alphabet = "0123456789abcdefghijklmnopqrstuv"
    return "".join(secrets.choice(alphabet) for _ in range(26))


def _invalid(message: str, reason: str = "invalid") -> GoogleApiError:
    return GoogleApiError(400, message, reason)


def _not_found() -> GoogleApiError:
    return GoogleApiError(404, "Not Found", "notFound")


def _ensure_primary(data: CalendarData, user: FakeUser) -> FakeCalendar:
    key = (user.sub, user.email)
    calendar = data.calendars.get(key)
    if calendar is None:
        calendar = FakeCalendar(id=user.email, owner=user.sub, summary=user.email, primary=True)
        data.calendars[key] = calendar
    return calendar


def _calendar(data: CalendarData, user: FakeUser, calendar_id: str) -> FakeCalendar:
    _ensure_primary(data, user)
    wanted = user.email if calendar_id == "primary" else calendar_id
    calendar = data.calendars.get((user.sub, wanted))
    if calendar is None:
        raise _not_found()
    return calendar


# Times


def _zone(name: str, which: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _invalid(f"Invalid time zone definition for {which} time.") from None


def _parse_time(value: Any, which: str) -> datetime | date:
    """A Google EventDateTime as an aware datetime or a date; 400 when malformed."""
    if not isinstance(value, dict):
        raise GoogleApiError(400, f"Missing {which} time.", "required")
    if value.get("date") is not None and value.get("dateTime") is not None:
        raise _invalid(f"Invalid {which} time.")
    if value.get("date") is not None:
        try:
            return date.fromisoformat(str(value["date"]))
        except ValueError:
            raise _invalid(f"Invalid {which} time.") from None
    raw = value.get("dateTime")
    if raw is None:
        raise GoogleApiError(400, f"Missing {which} time.", "required")
    try:
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise _invalid(f"Invalid {which} time.") from None
    zone_name = value.get("timeZone")
    zone = _zone(zone_name, which) if zone_name else None
    if moment.tzinfo is None:
        if zone is None:
            raise GoogleApiError(400, f"Missing time zone definition for {which} time.", "required")
        moment = moment.replace(tzinfo=zone)
    return moment


def _as_instant(value: datetime | date, zone: tzinfo) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time(0), tzinfo=zone)


def _validate_times(resource: dict[str, Any]) -> None:
    start = _parse_time(resource.get("start"), "start")
    end = _parse_time(resource.get("end"), "end")
    if isinstance(start, datetime) != isinstance(end, datetime):
        raise _invalid("Invalid start time.")
    empty = end <= start if not isinstance(start, datetime) else end < start
    if empty:
        raise _invalid("The specified time range is empty.", "timeRangeEmpty")
    recurrence = resource.get("recurrence")
    if recurrence is not None:
        if not isinstance(recurrence, list) or not all(isinstance(r, str) for r in recurrence):
            raise _invalid("Invalid recurrence rule.")
        try:
            next(iter(occurrences(start, recurrence, _event_zone(resource))), None)
        except (RecurrenceError, ValueError, ZoneInfoNotFoundError):
            raise _invalid("Invalid recurrence rule.") from None


def _event_zone(resource: dict[str, Any]) -> tzinfo | None:
    name = (resource.get("start") or {}).get("timeZone")
    return ZoneInfo(name) if name else None


def _format_time(moment: datetime | date, template: dict[str, Any]) -> dict[str, Any]:
    if isinstance(moment, datetime):
        result: dict[str, Any] = {"dateTime": moment.isoformat()}
        if template.get("timeZone"):
            result["timeZone"] = template["timeZone"]
        return result
    return {"date": moment.isoformat()}


def _stamp(moment: datetime | date) -> str:
    if isinstance(moment, datetime):
        return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return moment.strftime("%Y%m%d")


# Recurring events


def _instances(calendar: FakeCalendar, master: dict[str, Any], until: datetime | None) -> list:
    """Instances of a recurring master (exceptions applied), start < `until` when given."""
    start = _parse_time(master["start"], "start")
    end = _parse_time(master["end"], "end")
    duration = end - start
    exceptions = {
        e.resource["id"]: e.resource
        for e in calendar.events.values()
        if e.resource.get("recurringEventId") == master["id"]
    }
    result: list[dict[str, Any]] = []
    for moment in occurrences(start, master.get("recurrence") or [], _event_zone(master)):
        if until is not None and _as_instant(moment, calendar.zone) >= until:
            break
        instance_id = f"{master['id']}_{_stamp(moment)}"
        if instance_id in exceptions:
            result.append(exceptions[instance_id])
            continue
        instance = {k: copy.deepcopy(v) for k, v in master.items() if k != "recurrence"}
        instance["id"] = instance_id
        instance["recurringEventId"] = master["id"]
        instance["originalStartTime"] = _format_time(moment, master["start"])
        instance["start"] = _format_time(moment, master["start"])
        instance["end"] = _format_time(moment + duration, master["end"])
        result.append(instance)
    return result


def _find_instance(calendar: FakeCalendar, event_id: str) -> dict[str, Any] | None:
    found = INSTANCE_ID.match(event_id)
    if found is None:
        return None
    master = calendar.events.get(found.group("master"))
    if master is None or not master.resource.get("recurrence"):
        return None
    if master.resource.get("status") == "cancelled":
        return None
    for instance in _instances(calendar, master.resource, None):
        if instance["id"] == event_id:
            return instance
    return None


def _expanded(calendar: FakeCalendar, until: datetime | None) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for stored in calendar.events.values():
        resource = stored.resource
        if resource.get("recurringEventId"):
            continue  # exceptions appear through their master's expansion
        if resource.get("recurrence") and resource.get("status") != "cancelled":
            result.extend(_instances(calendar, resource, until))
        else:
            result.append(resource)
    return result


# Listing


def _start_instant(resource: dict[str, Any], zone: tzinfo) -> datetime:
    return _as_instant(_parse_time(resource["start"], "start"), zone)


def _matches_text(resource: dict[str, Any], text: str) -> bool:
    needle = text.lower()
    haystack = [resource.get(k) or "" for k in ("summary", "description", "location")]
    for attendee in resource.get("attendees") or []:
        haystack += [attendee.get("email") or "", attendee.get("displayName") or ""]
    return any(needle in str(value).lower() for value in haystack)


def _query_time(query: dict[str, Any], name: str) -> datetime | None:
    value = query.get(name)
    if value is None:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00").replace("z", "+00:00"))


def _in_window(
    resource: dict[str, Any], zone: tzinfo, time_min: datetime | None, time_max: datetime | None
) -> bool:
    if time_min is not None:
        end = _as_instant(_parse_time(resource["end"], "end"), zone)
        if end <= time_min:
            return False
    return time_max is None or _start_instant(resource, zone) < time_max


def _page(
    items: list[dict[str, Any]], query: dict[str, Any], snapshot: int
) -> tuple[list[dict[str, Any]], str | None, int]:
    """One page of `items`, the next page token, and the snapshot sequence of the listing."""
    offset = 0
    token = query.get("pageToken")
    if token:
        decoded = _decode_token(token)
        if decoded is None or not isinstance(decoded.get("o"), int):
            raise _invalid("Invalid page token value.")
        offset, snapshot = decoded["o"], int(decoded.get("s", snapshot))
    size = min(int(query.get("maxResults") or 250), 2500)
    page = items[offset : offset + size]
    more = offset + size < len(items)
    next_token = _encode_token({"o": offset + size, "s": snapshot}) if more else None
    return page, next_token, snapshot


def _events_envelope(calendar: FakeCalendar, data: CalendarData) -> dict[str, Any]:
    return {
        "kind": "calendar#events",
        "etag": _etag(data.seq),
        "summary": calendar.summary,
        "timeZone": calendar.time_zone,
        "accessRole": calendar.access_role,
        "defaultReminders": [{"method": "popup", "minutes": 10}],
    }


def _sync_token(calendar: FakeCalendar, seq: int) -> str:
    return _encode_token(
        {"c": calendar.id, "u": calendar.owner, "q": seq, "e": calendar.sync_epoch}
    )


def _full_sync_required() -> GoogleApiError:
    return GoogleApiError(
        410, "Sync token is no longer valid, a full sync is required.", "fullSyncRequired"
    )


_NOT_WITH_SYNC_TOKEN = ("timeMin", "timeMax", "q", "updatedMin", "orderBy", "iCalUID")


def _changed_since(calendar: FakeCalendar, token: str) -> tuple[list[dict[str, Any]], int]:
    decoded = _decode_token(token)
    valid = (
        decoded is not None
        and decoded.get("c") == calendar.id
        and decoded.get("u") == calendar.owner
        and decoded.get("e") == calendar.sync_epoch
        and isinstance(decoded.get("q"), int)
    )
    if not valid or decoded is None:
        raise _full_sync_required()
    since = decoded["q"]
    changed = sorted(
        (e for e in calendar.events.values() if e.seq > since), key=lambda stored: stored.seq
    )
    return [_as_changed(e.resource, calendar.bare_cancellations) for e in changed], since


def _as_changed(resource: dict[str, Any], bare: bool) -> dict[str, Any]:
    """An event as an incremental list shows it: a cancelled exception with only the fields
    Google guarantees for it (id, recurringEventId, originalStartTime), a deleted event as
    stored. Events/resource: "Cancelled exceptions are only guaranteed to have values for
    the id, recurringEventId and originalStartTime fields populated"
    (https://developers.google.com/workspace/calendar/api/v3/reference/events)."""
    if resource.get("status") != "cancelled":
        return resource
    if bare:
        return {"kind": resource.get("kind"), "id": resource["id"], "status": "cancelled"}
    if not resource.get("recurringEventId"):
        return resource
    keep = ("kind", "etag", "id", "status", "recurringEventId", "originalStartTime")
    return {k: resource[k] for k in keep if k in resource}


def list_events(calendar: FakeCalendar, data: CalendarData, query: dict[str, Any]) -> dict:
    """events.list over one calendar (shared by the API handler and tests of the fake)."""
    zone = calendar.zone
    sync_token = query.get("syncToken")
    if sync_token:
        if any(query.get(name) is not None for name in _NOT_WITH_SYNC_TOKEN):
            raise _invalid("Sync token cannot be used with other request restrictions.")
        items, _ = _changed_since(calendar, sync_token)
    else:
        if query.get("orderBy") == "startTime" and not query.get("singleEvents"):
            raise _invalid("The requested ordering is not available for the particular query.")
        time_min, time_max = _query_time(query, "timeMin"), _query_time(query, "timeMax")
        updated_min = _query_time(query, "updatedMin")
        if query.get("singleEvents"):
            items = _expanded(calendar, time_max)
        else:
            # Masters, single events and the modified instances (exceptions), as Google lists.
            items = [e.resource for e in calendar.events.values()]
        show_deleted = bool(query.get("showDeleted"))
        items = [
            r
            for r in items
            if (show_deleted or r.get("status") != "cancelled")
            and _in_window(r, zone, time_min, time_max)
            and (not query.get("q") or _matches_text(r, query["q"]))
            and (updated_min is None or _query_time(r, "updated") >= updated_min)  # type: ignore[operator]
            and (not query.get("iCalUID") or r.get("iCalUID") == query["iCalUID"])
        ]
        if query.get("orderBy") == "updated":
            items.sort(key=lambda r: r["updated"])
        elif query.get("singleEvents"):
            items.sort(key=lambda r: (_start_instant(r, zone), r["id"]))
    page, next_token, snapshot = _page(items, query, data.seq)
    result = _events_envelope(calendar, data)
    # Trimmed cancellations carry no `updated`; the list's own is the latest of the rest.
    result["updated"] = max((r["updated"] for r in page if r.get("updated")), default=_rfc3339(0))
    result["items"] = copy.deepcopy(page)
    if next_token:
        result["nextPageToken"] = next_token
    else:
        result["nextSyncToken"] = _sync_token(calendar, snapshot)
    return result


# Writes


def _check_if_match(request: ApiRequest | None, resource: dict[str, Any]) -> None:
    if request is None:
        return
    wanted = request.headers.get("If-Match")
    if wanted and wanted.strip() != "*" and wanted.strip() != resource.get("etag"):
        raise GoogleApiError(412, "Precondition Failed", "conditionNotMet")


def _prepare_attendees(resource: dict[str, Any], organizer: str) -> None:
    attendees = resource.get("attendees")
    if not isinstance(attendees, list):
        return
    for attendee in attendees:
        if not isinstance(attendee, dict) or not attendee.get("email"):
            raise GoogleApiError(400, "Missing attendee email.", "required")
        attendee.setdefault("responseStatus", "needsAction")
        if str(attendee["email"]).lower() == organizer.lower():
            attendee.update({"organizer": True, "self": True})


def _add_conference(resource: dict[str, Any], conference_version: int) -> None:
    conference = resource.get("conferenceData")
    if not isinstance(conference, dict) or "createRequest" not in conference:
        return
    if conference_version < 1:
        resource.pop("conferenceData")
        return
    code = "-".join(
        "".join(secrets.choice("abcdefghijkmnopqrstuvwxyz") for _ in range(n)) for n in (3, 4, 3)
    )
    link = f"https://meet.google.com/{code}"
    request_id = conference["createRequest"].get("requestId")
    resource["hangoutLink"] = link
    resource["conferenceData"] = {
        "createRequest": {"requestId": request_id, "status": {"statusCode": "success"}},
        "entryPoints": [{"entryPointType": "video", "uri": link, "label": link[8:]}],
        "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"},
        "conferenceId": code,
    }


def _store(
    data: CalendarData,
    calendar: FakeCalendar,
    resource: dict[str, Any],
    now: float,
    send_updates: str | None,
) -> dict[str, Any]:
    seq = data.bump()
    resource["etag"] = _etag(seq)
    resource["updated"] = _rfc3339(now)
    calendar.events[resource["id"]] = StoredEvent(resource, seq, send_updates)
    return copy.deepcopy(resource)


def insert_event(
    data: CalendarData,
    calendar: FakeCalendar,
    user: FakeUser,
    body: Any,
    query: dict[str, Any],
    now: float,
    *,
    foreign_id: bool = False,
) -> dict[str, Any]:
    """events.insert: validate, fill server fields, store (``foreign_id``: an id of the
    kind Google gives invitations and imports, for control routes)."""
    if not isinstance(body, dict):
        raise _invalid("The request body must be an event.")
    event_id = body.get("id")
    if event_id is not None:
        pattern = FOREIGN_EVENT_ID if foreign_id else EVENT_ID
        if not isinstance(event_id, str) or not pattern.match(event_id):
            raise _invalid("Invalid resource id value.")
        if event_id in calendar.events:
            raise GoogleApiError(409, "The requested identifier already exists.", "duplicate")
    resource = {k: copy.deepcopy(v) for k, v in body.items() if k not in _READ_ONLY}
    _validate_times(resource)
    event_id = event_id or _new_id()
    _prepare_attendees(resource, calendar.id)
    _add_conference(resource, int(query.get("conferenceDataVersion") or 0))
    resource.update(
        {
            "kind": "calendar#event",
            "id": event_id,
            "status": resource.get("status") or "confirmed",
            "htmlLink": "https://www.google.com/calendar/event?eid="
            + base64.urlsafe_b64encode(f"{event_id} {calendar.id}".encode()).decode().rstrip("="),
            "created": _rfc3339(now),
            "creator": {"email": user.email, "self": True},
            "organizer": {"email": calendar.id, "displayName": calendar.summary, "self": True},
            "iCalUID": f"{event_id}@google.com",
            "sequence": 0,
            "eventType": resource.get("eventType") or "default",
        }
    )
    resource.setdefault("reminders", {"useDefault": True})
    return _store(data, calendar, resource, now, query.get("sendUpdates"))


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if key in _READ_ONLY:
            continue
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _existing_for_write(calendar: FakeCalendar, event_id: str) -> dict[str, Any]:
    """The stored event, or an instance of a recurring event materialized as an exception."""
    stored = calendar.events.get(event_id)
    if stored is not None:
        return copy.deepcopy(stored.resource)
    instance = _find_instance(calendar, event_id)
    if instance is None:
        raise _not_found()
    return copy.deepcopy(instance)


def change_event(
    data: CalendarData,
    calendar: FakeCalendar,
    event_id: str,
    body: Any,
    query: dict[str, Any],
    now: float,
    request: ApiRequest | None,
    *,
    replace: bool,
) -> dict[str, Any]:
    """events.patch (merge) and events.update (replace)."""
    if not isinstance(body, dict):
        raise _invalid("The request body must be an event.")
    current = _existing_for_write(calendar, event_id)
    _check_if_match(request, current)
    reviving = body.get("status") in ("confirmed", "tentative")
    if current.get("status") == "cancelled" and not reviving:
        raise _not_found()
    if replace:
        kept = {k: v for k, v in current.items() if k in _READ_ONLY or k in _SERIES_FIELDS}
        updated = {**kept, **{k: copy.deepcopy(v) for k, v in body.items() if k not in _READ_ONLY}}
        updated.setdefault("status", "confirmed")
    else:
        updated = copy.deepcopy(current)
        _merge(updated, body)
    _validate_times(updated)
    _prepare_attendees(updated, calendar.id)
    _add_conference(updated, int(query.get("conferenceDataVersion") or 0))
    if any(updated.get(k) != current.get(k) for k in ("start", "end", "recurrence")):
        updated["sequence"] = int(current.get("sequence", 0)) + 1
    return _store(data, calendar, updated, now, query.get("sendUpdates"))


_SERIES_FIELDS = ("recurringEventId", "originalStartTime", "organizer")


def delete_event(
    data: CalendarData,
    calendar: FakeCalendar,
    event_id: str,
    query: dict[str, Any],
    now: float,
    request: ApiRequest | None,
) -> None:
    """events.delete: mark cancelled (410 when already cancelled, 404 when unknown)."""
    current = _existing_for_write(calendar, event_id)
    if current.get("status") == "cancelled":
        raise GoogleApiError(410, "Resource has been deleted", "deleted")
    _check_if_match(request, current)
    current["status"] = "cancelled"
    _store(data, calendar, current, now, query.get("sendUpdates"))
    if current.get("recurrence"):
        for stored in list(calendar.events.values()):
            exception = stored.resource
            if exception.get("recurringEventId") == event_id and exception["status"] != "cancelled":
                exception["status"] = "cancelled"
                _store(data, calendar, exception, now, query.get("sendUpdates"))


def store_raw(data: CalendarData, calendar: FakeCalendar, body: Any, now: float) -> dict[str, Any]:
    """Store an event resource as given (only etag and updated set): odd field values that
    a real calendar can hold (other clients, imports, future API fields)."""
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        raise _invalid("a raw event needs a string id")
    return _store(data, calendar, copy.deepcopy(body), now, None)


def _with_until(line: str, until: str) -> str:
    if not line.upper().startswith("RRULE:"):
        return line
    parts = [p for p in line[6:].split(";") if p.split("=")[0].upper() not in ("COUNT", "UNTIL")]
    return "RRULE:" + ";".join([*parts, f"UNTIL={until}"])


def split_series(
    data: CalendarData,
    calendar: FakeCalendar,
    user: FakeUser,
    master_id: str,
    instance_id: str,
    changes: dict[str, Any],
    now: float,
) -> dict[str, Any]:
    """ "This and following": the series ends before `instance_id` (its RRULE gets an UNTIL,
    its later exceptions are cancelled) and a new series `<id>_R<start>` starts there, as
    Google's own clients split a recurring event."""
    stored = calendar.events.get(master_id)
    if stored is None or not stored.resource.get("recurrence"):
        raise _not_found()
    master = copy.deepcopy(stored.resource)
    instances = _instances(calendar, master, None)
    index = next((n for n, i in enumerate(instances) if i["id"] == instance_id), None)
    if index is None or index == 0:
        raise _invalid("instanceId must be a later occurrence of the series")
    split = instances[index]
    moment = _parse_time(split["originalStartTime"], "start")
    if isinstance(moment, datetime):
        until = (moment.astimezone(UTC) - timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ")
    else:
        until = (moment - timedelta(days=1)).strftime("%Y%m%d")
    remaining = len(instances) - index
    new = {k: copy.deepcopy(v) for k, v in master.items() if k not in _READ_ONLY}
    new.pop("status", None)
    new["id"] = f"{master_id}_R{_stamp(moment).rstrip('Z')}"
    duration = _parse_time(master["end"], "end") - _parse_time(master["start"], "start")
    new["start"] = _format_time(moment, master["start"])
    new["end"] = _format_time(moment + duration, master["end"])
    new["recurrence"] = [
        _remaining_rule(line, remaining)
        for line in master["recurrence"]
        if not line.startswith("EXDATE")
    ]
    _merge(new, changes)
    master["recurrence"] = [_with_until(line, until) for line in master["recurrence"]]
    master["sequence"] = int(master.get("sequence", 0)) + 1
    _store(data, calendar, master, now, None)
    for exception in list(calendar.events.values()):
        resource = exception.resource
        if resource.get("recurringEventId") != master_id or resource["status"] == "cancelled":
            continue
        started = _parse_time(resource["originalStartTime"], "start")
        if _as_instant(started, calendar.zone) >= _as_instant(moment, calendar.zone):
            resource["status"] = "cancelled"
            _store(data, calendar, resource, now, None)
    return insert_event(data, calendar, user, new, {}, now, foreign_id=True)


def _remaining_rule(line: str, remaining: int) -> str:
    """The series' rule for the new series: what is left of a COUNT, UNTIL kept."""
    if not line.upper().startswith("RRULE:"):
        return line
    parts = line[6:].split(";")
    if not any(p.upper().startswith("COUNT=") for p in parts):
        return line
    kept = [p for p in parts if not p.upper().startswith("COUNT=")]
    return "RRULE:" + ";".join([*kept, f"COUNT={remaining}"])


# Push channels


def _notify(state: FakeState, channel: Channel, resource_state: str, schedule: Scheduler) -> None:
    """Queue one notification (or none, or two) to a channel, as its test switches say."""
    channel.message_number += 1
    number = channel.message_number
    copies = 1
    if channel.drop_next > 0:
        channel.drop_next -= 1
        copies = 0
        channel.deliveries.append({"number": number, "state": resource_state, "dropped": True})
    elif channel.duplicate_next > 0:
        channel.duplicate_next -= 1
        copies = 2
    notification = push.ChannelNotification(
        address=channel.address,
        channel_id=channel.id,
        token=channel.token,
        resource_id=channel.resource_id,
        resource_uri=channel.resource_uri,
        resource_state=resource_state,
        message_number=number,
        expiration_ms=channel.expiration_ms,
    )
    for _ in range(copies):
        schedule(_delivery(state, channel, notification))


def _delivery(
    state: FakeState, channel: Channel, notification: push.ChannelNotification
) -> Callable[[], None]:
    def deliver() -> None:
        status = push.send_channel_notification(notification)
        with state.lock:
            channel.deliveries.append(
                {
                    "number": notification.message_number,
                    "state": notification.resource_state,
                    "status": status,
                }
            )

    return deliver


def _live_channels(data: CalendarData, calendar: FakeCalendar, now: float) -> list[Channel]:
    return [
        c
        for c in data.channels.values()
        if c.owner == calendar.owner
        and c.calendar_id == calendar.id
        and not c.stopped
        and c.expiration_ms > now * 1000
    ]


def _changed(
    state: FakeState, data: CalendarData, calendar: FakeCalendar, schedule: Scheduler
) -> None:
    for channel in _live_channels(data, calendar, state.now()):
        _notify(state, channel, "exists", schedule)


# API handlers


_ROLES = ("freeBusyReader", "reader", "writer", "owner")


@module.handler("calendar.calendarList.list")
def calendar_list(request: ApiRequest, data: CalendarData) -> dict[str, Any]:
    """The caller's calendars."""
    user = request.caller
    _ensure_primary(data, user)
    owned = [c for (sub, _), c in data.calendars.items() if sub == user.sub]
    wanted_role = str(request.query.get("minAccessRole") or "freeBusyReader")
    if wanted_role not in _ROLES:
        raise _invalid("Invalid minAccessRole value.")
    least = _ROLES.index(wanted_role)
    owned = [c for c in owned if _ROLES.index(c.access_role) >= least]
    owned.sort(key=lambda c: (not c.primary, c.id))
    entries = [c.to_list_entry(data.seq) for c in owned]
    page, next_token, snapshot = _page(entries, request.query, data.seq)
    result: dict[str, Any] = {"kind": "calendar#calendarList", "etag": _etag(data.seq)}
    result["items"] = page
    if next_token:
        result["nextPageToken"] = next_token
    else:
        result["nextSyncToken"] = _encode_token({"u": user.sub, "q": snapshot})
    return result


@module.handler("calendar.events.list")
def events_list(request: ApiRequest, data: CalendarData) -> dict[str, Any]:
    """Events of a calendar: window, text, expansion, paging, incremental sync."""
    calendar = _calendar(data, request.caller, request.path_params["calendarId"])
    return list_events(calendar, data, request.query)


@module.handler("calendar.events.instances")
def events_instances(request: ApiRequest, data: CalendarData) -> dict[str, Any]:
    """Instances of one recurring event."""
    calendar = _calendar(data, request.caller, request.path_params["calendarId"])
    stored = calendar.events.get(request.path_params["eventId"])
    if stored is None:
        raise _not_found()
    master = stored.resource
    if master.get("status") == "cancelled":
        raise GoogleApiError(410, "Resource has been deleted", "deleted")
    zone = calendar.zone
    time_min = _query_time(request.query, "timeMin")
    time_max = _query_time(request.query, "timeMax")
    items = _instances(calendar, master, time_max) if master.get("recurrence") else [master]
    items = [
        r
        for r in items
        if (request.query.get("showDeleted") or r.get("status") != "cancelled")
        and _in_window(r, zone, time_min, time_max)
    ]
    page, next_token, _ = _page(items, request.query, data.seq)
    result = _events_envelope(calendar, data)
    result["updated"] = master["updated"]
    result["items"] = copy.deepcopy(page)
    if next_token:
        result["nextPageToken"] = next_token
    return result


@module.handler("calendar.events.get")
def events_get(request: ApiRequest, data: CalendarData) -> dict[str, Any]:
    """One event (cancelled ones included, as Google answers them) or a recurring instance."""
    calendar = _calendar(data, request.caller, request.path_params["calendarId"])
    event_id = request.path_params["eventId"]
    stored = calendar.events.get(event_id)
    resource = stored.resource if stored is not None else _find_instance(calendar, event_id)
    if resource is None:
        raise _not_found()
    return copy.deepcopy(resource)


@module.handler("calendar.events.insert")
def events_insert(request: ApiRequest, data: CalendarData) -> dict[str, Any]:
    """Create an event; a client-supplied id that exists answers 409 duplicate."""
    calendar = _calendar(data, request.caller, request.path_params["calendarId"])
    created = insert_event(
        data, calendar, request.caller, request.body, request.query, request.state.now()
    )
    _changed(request.state, data, calendar, request.defer)
    return created


@module.handler("calendar.events.patch")
def events_patch(request: ApiRequest, data: CalendarData) -> dict[str, Any]:
    """Merge the body into the event (If-Match checked)."""
    return _write(request, data, replace=False)


@module.handler("calendar.events.update")
def events_update(request: ApiRequest, data: CalendarData) -> dict[str, Any]:
    """Replace the event's writable fields (If-Match checked)."""
    return _write(request, data, replace=True)


def _write(request: ApiRequest, data: CalendarData, *, replace: bool) -> dict[str, Any]:
    calendar = _calendar(data, request.caller, request.path_params["calendarId"])
    changed = change_event(
        data,
        calendar,
        request.path_params["eventId"],
        request.body,
        request.query,
        request.state.now(),
        request,
        replace=replace,
    )
    _changed(request.state, data, calendar, request.defer)
    return changed


@module.handler("calendar.events.delete")
def events_delete(request: ApiRequest, data: CalendarData) -> None:
    """Cancel the event: 410 when already cancelled, 404 when unknown."""
    calendar = _calendar(data, request.caller, request.path_params["calendarId"])
    delete_event(
        data, calendar, request.path_params["eventId"], request.query, request.state.now(), request
    )
    _changed(request.state, data, calendar, request.defer)


@module.handler("calendar.events.watch")
def events_watch(request: ApiRequest, data: CalendarData) -> dict[str, Any]:
    """Open a web_hook channel on the calendar's events and send its `sync` message."""
    calendar = _calendar(data, request.caller, request.path_params["calendarId"])
    body = request.body if isinstance(request.body, dict) else {}
    channel_id, address = body.get("id"), body.get("address")
    if not isinstance(channel_id, str) or not channel_id:
        raise GoogleApiError(400, "Required", "required")
    if body.get("type") not in ("web_hook", "webhook"):
        raise _invalid("Invalid channel type.")
    if not isinstance(address, str) or urllib.parse.urlsplit(address).scheme not in (
        "http",
        "https",
    ):
        raise _invalid("Invalid webhook address.")
    if channel_id in data.channels and not data.channels[channel_id].stopped:
        raise GoogleApiError(400, f"Channel id {channel_id} not unique", "channelIdNotUnique")
    token = body.get("token")
    if token is not None and (not isinstance(token, str) or len(token) > 256):
        raise _invalid("Invalid channel token.")
    now_ms = int(request.state.now() * 1000)
    expiration = now_ms + CHANNEL_LIFETIME_MS
    if body.get("expiration") is not None:
        try:
            expiration = min(int(body["expiration"]), expiration)
        except (TypeError, ValueError):
            raise _invalid("Invalid expiration.") from None
    quoted = urllib.parse.quote(calendar.id, safe="")
    channel = Channel(
        id=channel_id,
        resource_id=_new_id()[:20],
        owner=calendar.owner,
        calendar_id=calendar.id,
        address=address,
        token=token,
        expiration_ms=expiration,
        resource_uri=f"https://www.googleapis.com/calendar/v3/calendars/{quoted}/events?alt=json",
    )
    data.channels[channel_id] = channel
    _notify(request.state, channel, "sync", request.defer)
    answer: dict[str, Any] = {
        "kind": "api#channel",
        "id": channel.id,
        "resourceId": channel.resource_id,
        "resourceUri": channel.resource_uri,
        "expiration": str(channel.expiration_ms),
    }
    if token is not None:
        answer["token"] = token
    return answer


@module.handler("calendar.channels.stop")
def channels_stop(request: ApiRequest, data: CalendarData) -> None:
    """Stop a channel named by id and resourceId."""
    body = request.body if isinstance(request.body, dict) else {}
    channel = data.channels.get(str(body.get("id")))
    if channel is None or channel.resource_id != body.get("resourceId") or channel.stopped:
        raise GoogleApiError(404, f"Channel '{body.get('id')}' not found for project", "notFound")
    channel.stopped = True


# Control routes


def _control_user(request: ControlRequest) -> FakeUser:
    user = request.named_user()
    if user is None:
        raise GoogleApiError(404, "no such user (give an existing sub or email)", "notFound")
    return user


def _control_calendar(request: ControlRequest, data: CalendarData) -> FakeCalendar:
    user = _control_user(request)
    calendar_id = request.body.get("calendarId") or request.args.get("calendarId") or "primary"
    return _calendar(data, user, str(calendar_id))


@module.control("/seed")
def seed(request: ControlRequest, data: CalendarData) -> dict[str, Any]:
    """Add calendars (or change the primary's summary/timeZone) and events for a user."""
    user = _control_user(request)
    primary = _ensure_primary(data, user)
    calendar_ids = []
    for spec in request.body.get("calendars") or []:
        calendar_id = spec.get("id") or primary.id
        if spec.get("timeZone"):
            _zone(spec["timeZone"], "calendar")
        calendar = data.calendars.get((user.sub, calendar_id)) or FakeCalendar(
            id=calendar_id, owner=user.sub, summary=calendar_id
        )
        calendar.summary = spec.get("summary") or calendar.summary
        calendar.time_zone = spec.get("timeZone") or calendar.time_zone
        calendar.access_role = spec.get("accessRole") or calendar.access_role
        calendar.description = spec.get("description") or calendar.description
        calendar.selected = bool(spec.get("selected", calendar.selected))
        calendar.hidden = bool(spec.get("hidden", calendar.hidden))
        calendar.bare_cancellations = bool(
            spec.get("bareCancellations", calendar.bare_cancellations)
        )
        data.calendars[(user.sub, calendar_id)] = calendar
        calendar_ids.append(calendar_id)
    events = []
    for spec in request.body.get("events") or []:
        body = {k: v for k, v in spec.items() if k != "calendarId"}
        calendar = _calendar(data, user, spec.get("calendarId") or "primary")
        events.append(insert_event(data, calendar, user, body, {}, request.state.now()))
    return {"calendars": calendar_ids, "events": events}


@module.control("/change")
def change_from_elsewhere(request: ControlRequest, data: CalendarData) -> dict[str, Any]:
    """A change "from another device", then notify channels: `insert` (any id Google could
    give, e.g. an invitation's), `patch` (`{"status": "confirmed"}` restores a deleted
    event), `delete`, `split` ("this and following" from `instanceId`, `event` changing the
    new series) or `raw` (the resource stored as given, unvalidated: odd values)."""
    calendar = _control_calendar(request, data)
    user = _control_user(request)
    action = request.body.get("action")
    event = request.body.get("event") or {}
    event_id = str(request.body.get("eventId") or event.get("id") or "")
    now = request.state.now()
    result: dict[str, Any] = {}
    if action == "insert":
        result = insert_event(data, calendar, user, event, {}, now, foreign_id=True)
    elif action == "raw":
        result = store_raw(data, calendar, event, now)
    elif action == "split":
        instance_id = str(request.body.get("instanceId") or "")
        result = split_series(data, calendar, user, event_id, instance_id, event, now)
    elif action == "patch":
        result = change_event(data, calendar, event_id, event, {}, now, None, replace=False)
    elif action == "delete":
        delete_event(data, calendar, event_id, {}, now, None)
        result = {"id": event_id, "status": "cancelled"}
    else:
        raise _invalid("action must be insert, raw, split, patch or delete")
    _changed(request.state, data, calendar, push.in_background)
    return result


@module.control("/calendars/remove")
def remove_calendar(request: ControlRequest, data: CalendarData) -> dict[str, Any]:
    """The user unsubscribes from (or loses access to) a calendar: it leaves their list."""
    calendar = _control_calendar(request, data)
    if calendar.primary:
        raise _invalid("the primary calendar cannot be removed")
    del data.calendars[(calendar.owner, calendar.id)]
    for channel in data.channels.values():
        if channel.owner == calendar.owner and channel.calendar_id == calendar.id:
            channel.stopped = True  # Google stops pushing about a calendar you cannot see
    return {"removed": calendar.id}


@module.control("/sync_tokens/expire")
def expire_sync_tokens(request: ControlRequest, data: CalendarData) -> dict[str, Any]:
    """Invalidate every sync token issued for a calendar (the next use answers 410)."""
    calendar = _control_calendar(request, data)
    calendar.sync_epoch += 1
    return {"calendarId": calendar.id, "epoch": calendar.sync_epoch}


@module.control("/events", methods=["GET"])
def stored_events(request: ControlRequest, data: CalendarData) -> dict[str, Any]:
    """Every stored event of a calendar (cancelled included) with its recorded sendUpdates."""
    calendar = _control_calendar(request, data)
    return {
        "calendarId": calendar.id,
        "events": [
            {"resource": copy.deepcopy(e.resource), "sendUpdates": e.send_updates}
            for e in calendar.events.values()
        ],
    }


@module.control("/channels", methods=["GET"])
def list_channels(request: ControlRequest, data: CalendarData) -> dict[str, Any]:
    """Every channel ever opened, with its deliveries."""
    return {"channels": [c.to_json() for c in data.channels.values()]}


def _channel(data: CalendarData, request: ControlRequest) -> Channel:
    channel = data.channels.get(request.path_params["channel_id"])
    if channel is None:
        raise _not_found()
    return channel


def _count(request: ControlRequest) -> int:
    count = request.body.get("count", 1)
    if not isinstance(count, int) or count < 1:
        raise _invalid("count must be a positive integer")
    return count


@module.control("/channels/<channel_id>/drop_next")
def drop_next(request: ControlRequest, data: CalendarData) -> dict[str, Any]:
    """Do not deliver the channel's next `count` notifications (their numbers are used up)."""
    channel = _channel(data, request)
    channel.drop_next += _count(request)
    return channel.to_json()


@module.control("/channels/<channel_id>/duplicate_next")
def duplicate_next(request: ControlRequest, data: CalendarData) -> dict[str, Any]:
    """Deliver the channel's next `count` notifications twice (same message number)."""
    channel = _channel(data, request)
    channel.duplicate_next += _count(request)
    return channel.to_json()
