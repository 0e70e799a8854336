"""drive v3: the change log (start token, changes.list, changes.watch) and channels.stop.

Files exist only through the control routes under `/_control/drive/files`, which create (an
upload may keep an older `modifiedTime`, as Drive lets uploads set it), modify (rename, move
to other `parents`, (un)trash, content), trash and permanently delete them. Each of those
appends to the owner's change log and sends a `change` notification to every live
`changes.watch` channel of the owner (faults: drop, duplicate, delay).
`/invalidate_page_tokens` makes every page token issued so far invalid.

Behaviour copied from Google, with the source:
- A change entry is the file's current state, and a newer entry for a file replaces the older
  one ("individual change entries may be invalidated and replaced", Drive "about changes"
  guide); a permanently deleted file is a tombstone: `removed: true` and no `file`.
- Without `fields` the server returns a default set of fields (Drive "fields parameter" guide:
  files are `kind, id, name, mimeType`); so `trashed`, `modifiedTime`, `lastModifyingUser` come
  only when asked for, e.g. `fields=nextPageToken,newStartPageToken,changes(fileId,removed,
  time,file(id,name,mimeType,trashed,modifiedTime))`. An unknown field is a 400.
- An unusable page token answers 400 "Invalid Value", reason `invalid`, location `pageToken`
  (what Drive answers for a bad `pageToken`, as recorded in public client tests).
- `changes.watch` answers the channel, then sends a `sync` notification (message number 1);
  later notifications carry `X-Goog-Resource-State: change` (Drive push guide).
"""

from __future__ import annotations

import functools
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import flask
from googleapiclient.discovery_cache import get_static_doc

from devstack.fake_google import push
from devstack.fake_google.control import ControlError
from devstack.fake_google.errors import GoogleApiError
from devstack.fake_google.registry import ApiModule, ApiRequest, ControlRequest
from devstack.fake_google.state import FakeState, FakeUser

DEFAULT_PAGE_SIZE = 100
DEFAULT_CHANNEL_LIFETIME_MS = 24 * 3600 * 1000
MAX_CHANNEL_LIFETIME_MS = 7 * 24 * 3600 * 1000
DEFAULT_MIME_TYPE = "application/vnd.google-apps.document"
NOTIFY_MODES = ("normal", "drop", "duplicate", "delay")
RESOURCE_URI = "https://www.googleapis.com/drive/v3/changes?alt=json&pageToken={token}"
# What `changes.list` returns when the request has no `fields` parameter.
DEFAULT_CHANGE_LIST_FIELDS = (
    "kind,nextPageToken,newStartPageToken,"
    "changes(kind,type,changeType,time,removed,fileId,driveId,file(kind,id,name,mimeType))"
)


def _rfc3339(epoch_seconds: float) -> str:
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class DriveFile:
    """A file in a fake user's My Drive."""

    id: str
    name: str
    mime_type: str
    created_time: str
    modified_time: str
    modifier: str
    modified_by_owner: bool
    parents: list[str] = field(default_factory=lambda: ["root"])
    version: int = 1
    trashed: bool = False
    trashed_time: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The full Drive `File` resource of this file."""
        data: dict[str, Any] = {
            "kind": "drive#file",
            "id": self.id,
            "name": self.name,
            "mimeType": self.mime_type,
            "trashed": self.trashed,
            "explicitlyTrashed": self.trashed,
            "createdTime": self.created_time,
            "modifiedTime": self.modified_time,
            "parents": list(self.parents),
            "version": str(self.version),
            "lastModifyingUser": {
                "kind": "drive#user",
                "displayName": self.modifier,
                "me": self.modified_by_owner,
            },
            "webViewLink": f"https://drive.google.com/file/d/{self.id}/view?usp=drivesdk",
        }
        if self.trashed_time is not None:
            data["trashedTime"] = self.trashed_time
        return data


@dataclass
class ChangeEntry:
    """One entry of a user's change log."""

    id: int
    file_id: str
    time: str
    # The file's state at the change, or None for a tombstone (permanent deletion).
    file: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        """The Drive `Change` resource."""
        data: dict[str, Any] = {
            "kind": "drive#change",
            "type": "file",
            "changeType": "file",
            "time": self.time,
            "removed": self.file is None,
            "fileId": self.file_id,
        }
        if self.file is not None:
            data["file"] = self.file
        return data


@dataclass
class DriveAccount:
    """One fake user's Drive: files and change log."""

    owner_name: str
    # The opaque id of the user's change feed, the same for every channel watching it.
    resource_id: str
    next_change_id: int
    # Page tokens below this were invalidated by the control route.
    oldest_page_token: int
    files: dict[str, DriveFile] = field(default_factory=dict)
    changes: list[ChangeEntry] = field(default_factory=list)

    def record(self, file_id: str, time: str, file: dict[str, Any] | None) -> ChangeEntry:
        """Append a change, replacing the file's older entry as Drive's change log does."""
        self.changes = [c for c in self.changes if c.file_id != file_id]
        entry = ChangeEntry(self.next_change_id, file_id, time, file)
        self.changes.append(entry)
        self.next_change_id += 1
        return entry


@dataclass
class DriveChannel:
    """A `changes.watch` notification channel."""

    id: str
    sub: str
    resource_id: str
    resource_uri: str
    address: str
    token: str | None
    expiration_ms: int
    messages_sent: int = 0
    stopped: bool = False

    def live(self, now_ms: int) -> bool:
        """Not stopped and not expired."""
        return not self.stopped and self.expiration_ms > now_ms

    def api_json(self) -> dict[str, Any]:
        """The channel as `changes.watch` answers it."""
        data: dict[str, Any] = {
            "kind": "api#channel",
            "id": self.id,
            "resourceId": self.resource_id,
            "resourceUri": self.resource_uri,
            "expiration": str(self.expiration_ms),
        }
        if self.token is not None:
            data["token"] = self.token
        return data


@dataclass
class DriveData:
    """Accounts by user sub, channels, and the log of notifications sent."""

    accounts: dict[str, DriveAccount] = field(default_factory=dict)
    channels: list[DriveChannel] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)

    def account(self, user: FakeUser) -> DriveAccount:
        """The user's Drive, created empty on first use."""
        account = self.accounts.get(user.sub)
        if account is None:
            first = 1000 + secrets.randbelow(9000)
            account = DriveAccount(
                owner_name=user.name,
                resource_id=secrets.token_urlsafe(20),
                next_change_id=first,
                oldest_page_token=first,
            )
            self.accounts[user.sub] = account
        return account


module: ApiModule[DriveData] = ApiModule("drive", DriveData)


def _now_ms(state: FakeState) -> int:
    return int(state.now() * 1000)


def _invalid_page_token() -> GoogleApiError:
    return GoogleApiError(
        400, "Invalid Value", "invalid", location="pageToken", location_type="parameter"
    )


def _page_token(request: ApiRequest, account: DriveAccount) -> int:
    raw = request.query.get("pageToken", "")
    if not re.fullmatch(r"\d{1,18}", raw):
        raise _invalid_page_token()
    token = int(raw)
    if not account.oldest_page_token <= token <= account.next_change_id:
        raise _invalid_page_token()
    return token


# Partial responses (`fields`)


@functools.cache
def _schemas() -> dict[str, Any]:
    text = get_static_doc("drive", "v3")
    assert text is not None
    schemas: dict[str, Any] = json.loads(text)["schemas"]
    return schemas


FieldTree = dict[str, Any]  # name → subtree, or None for "the whole value"
_FIELD_PATH = re.compile(r"[A-Za-z0-9_*]+(?:/[A-Za-z0-9_*]+)*")


def _invalid_fields(selection: str) -> GoogleApiError:
    return GoogleApiError(
        400,
        f"Invalid field selection {selection}",
        "invalidParameter",
        location="fields",
        location_type="parameter",
    )


def parse_fields(text: str) -> FieldTree:
    """Parse a `fields` mask such as `a,b/c,d(e,f)` into a tree."""
    compact = re.sub(r"\s+", "", text)
    tree, position = _parse_field_list(compact, 0)
    if position != len(compact):
        raise _invalid_fields(text)
    return tree


def _parse_field_list(text: str, position: int) -> tuple[FieldTree, int]:
    tree: FieldTree = {}
    while True:
        found = _FIELD_PATH.match(text, position)
        if found is None:
            raise _invalid_fields(text)
        path = found.group().split("/")
        position = found.end()
        subtree = None
        if position < len(text) and text[position] == "(":
            subtree, position = _parse_field_list(text, position + 1)
            if position >= len(text) or text[position] != ")":
                raise _invalid_fields(text)
            position += 1
        _insert_field(tree, path, subtree)
        if position < len(text) and text[position] == ",":
            position += 1
            continue
        return tree, position


def _insert_field(tree: FieldTree, path: list[str], subtree: FieldTree | None) -> None:
    node = tree
    for name in path[:-1]:
        if name in node and node[name] is None:
            return  # the whole parent is selected already
        node = node.setdefault(name, {})
    last = path[-1]
    if subtree is None or node.get(last, {}) is None:
        node[last] = None
    else:
        node.setdefault(last, {}).update(subtree)


def _reference(prop: dict[str, Any]) -> str | None:
    items = prop.get("items")
    ref = prop.get("$ref") or (items.get("$ref") if isinstance(items, dict) else None)
    return ref if isinstance(ref, str) else None


def _validate_fields(tree: FieldTree, schema: str) -> None:
    properties = _schemas()[schema]["properties"]
    for name, subtree in tree.items():
        if name == "*":
            continue
        if name not in properties:
            raise _invalid_fields(name)
        ref = _reference(properties[name])
        if subtree is not None:
            if ref is None:
                raise _invalid_fields(name)
            _validate_fields(subtree, ref)


def _select(value: dict[str, Any], tree: FieldTree, schema: str) -> dict[str, Any]:
    if "*" in tree:
        return value
    properties = _schemas()[schema]["properties"]
    result: dict[str, Any] = {}
    for name, subtree in tree.items():
        if name not in value:
            continue
        child = value[name]
        ref = _reference(properties[name])
        if subtree is None or ref is None:
            result[name] = child
        elif isinstance(child, list):
            result[name] = [_select(item, subtree, ref) for item in child]
        else:
            result[name] = _select(child, subtree, ref)
    return result


def partial_response(value: dict[str, Any], fields: str, schema: str) -> dict[str, Any]:
    """`value` reduced to the `fields` mask, which must name fields of the schema (else 400)."""
    tree = parse_fields(fields)
    _validate_fields(tree, schema)
    return _select(value, tree, schema)


# Notifications

Runner = Callable[[Callable[[], None]], None]


def _queue_notification(
    state: FakeState,
    data: DriveData,
    channel: DriveChannel,
    resource_state: str,
    mode: str,
    run: Runner,
) -> list[int]:
    """Number, record and hand to `run` one notification of a channel; call holding the lock."""
    channel.messages_sent += 1
    notification = push.ChannelNotification(
        address=channel.address,
        channel_id=channel.id,
        token=channel.token,
        resource_id=channel.resource_id,
        resource_uri=channel.resource_uri,
        resource_state=resource_state,
        message_number=channel.messages_sent,
        expiration_ms=channel.expiration_ms,
    )
    # A duplicate is a redelivery: same message number twice.
    sends = {"drop": 0, "duplicate": 2}.get(mode, 1)
    entries = []
    for _ in range(max(sends, 1)):
        entry: dict[str, Any] = {
            "id": len(data.notifications) + 1,
            "sub": channel.sub,
            "channel_id": channel.id,
            "resource_id": channel.resource_id,
            "resource_state": resource_state,
            "message_number": notification.message_number,
            "mode": mode,
            "outcome": "dropped" if sends == 0 else "pending",
            "status": None,
        }
        data.notifications.append(entry)
        entries.append(entry)
    for entry in entries[:sends]:
        run(functools.partial(_send, state, entry, notification))
    return [e["id"] for e in entries]


def _send(state: FakeState, entry: dict[str, Any], notification: push.ChannelNotification) -> None:
    status = push.send_channel_notification(notification)
    with state.lock:
        entry["status"] = status
        entry["outcome"] = "sent" if status is not None and status < 300 else "failed"


def _background(delay_seconds: float) -> Runner:
    return lambda action: push.in_background(action, delay_seconds)


# API methods


@module.handler("drive.changes.getStartPageToken")
def get_start_page_token(request: ApiRequest, data: DriveData) -> dict[str, Any]:
    """The token from which `changes.list` shows only future changes."""
    account = data.account(request.caller)
    return {"kind": "drive#startPageToken", "startPageToken": str(account.next_change_id)}


@module.handler("drive.changes.list")
def list_changes(request: ApiRequest, data: DriveData) -> dict[str, Any]:
    """Changes from `pageToken` on, oldest first, `pageSize` at a time."""
    account = data.account(request.caller)
    token = _page_token(request, account)
    page_size = request.query.get("pageSize") or DEFAULT_PAGE_SIZE
    include_removed = request.query.get("includeRemoved", True)
    pending = [
        c for c in account.changes if c.id >= token and (include_removed or c.file is not None)
    ]
    page = pending[:page_size]
    result: dict[str, Any] = {"kind": "drive#changeList", "changes": [c.to_json() for c in page]}
    if len(pending) > page_size:
        result["nextPageToken"] = str(pending[page_size].id)
    else:
        result["newStartPageToken"] = str(account.next_change_id)
    # `fields` is a standard parameter, which the gateway accepts but leaves out of `query`.
    fields = flask.request.args.get("fields") or DEFAULT_CHANGE_LIST_FIELDS
    return partial_response(result, fields, "ChangeList")


def _channel_expiration(body: dict[str, Any], now_ms: int) -> int:
    requested = body.get("expiration")
    if requested is None:
        return now_ms + DEFAULT_CHANNEL_LIFETIME_MS
    try:
        expiration = int(requested)
    except (TypeError, ValueError):
        raise GoogleApiError(400, "Invalid expiration", "invalid") from None
    if expiration <= now_ms:
        raise GoogleApiError(400, "Invalid expiration: it is in the past", "invalid")
    # Drive caps a changes channel's lifetime instead of refusing a longer one.
    return min(expiration, now_ms + MAX_CHANNEL_LIFETIME_MS)


@module.handler("drive.changes.watch")
def watch_changes(request: ApiRequest, data: DriveData) -> dict[str, Any]:
    """Open a web_hook channel on the caller's change log; it first gets a `sync` message."""
    user = request.caller
    account = data.account(user)
    token = _page_token(request, account)
    body = request.body if isinstance(request.body, dict) else {}
    channel_id, address = body.get("id"), body.get("address")
    if not isinstance(channel_id, str) or not channel_id:
        raise GoogleApiError(400, "Required", "required", location="resource.id")
    if not isinstance(address, str) or not address.startswith(("http://", "https://")):
        raise GoogleApiError(400, "Required", "required", location="resource.address")
    if body.get("type") not in ("web_hook", "webhook"):
        raise GoogleApiError(400, "Invalid value for type", "invalid", location="resource.type")
    channel_token = body.get("token")
    if channel_token is not None and not isinstance(channel_token, str):
        raise GoogleApiError(400, "Invalid token", "invalid", location="resource.token")
    now_ms = _now_ms(request.state)
    if any(c.id == channel_id and c.live(now_ms) for c in data.channels):
        raise GoogleApiError(400, f"Channel id {channel_id} not unique", "channelIdNotUnique")
    channel = DriveChannel(
        id=channel_id,
        sub=user.sub,
        resource_id=account.resource_id,
        resource_uri=RESOURCE_URI.format(token=token),
        address=address,
        token=channel_token,
        expiration_ms=_channel_expiration(body, now_ms),
    )
    data.channels.append(channel)
    _queue_notification(request.state, data, channel, "sync", "normal", request.defer)
    return channel.api_json()


@module.handler("drive.channels.stop")
def stop_channel(request: ApiRequest, data: DriveData) -> None:
    """Stop one of the caller's channels, named by id and resource id (404 if none)."""
    body = request.body if isinstance(request.body, dict) else {}
    channel_id, resource_id = body.get("id"), body.get("resourceId")
    for channel in data.channels:
        if (
            channel.id == channel_id
            and channel.resource_id == resource_id
            and channel.sub == request.caller.sub
            and not channel.stopped
        ):
            channel.stopped = True
            return
    raise GoogleApiError(404, f"Channel '{channel_id}' not found", "notFound")


# Control routes


def _control_user(request: ControlRequest) -> FakeUser:
    user = request.named_user()
    if user is None:
        raise ControlError("no such user (give an existing sub or email)", 404)
    return user


def _optional_string(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise ControlError(f"{name} must be a non-empty string")
    return value


def _notify_mode(body: dict[str, Any]) -> tuple[str, float]:
    mode = body.get("notify", "normal")
    if mode not in NOTIFY_MODES:
        raise ControlError(f"notify must be one of {', '.join(NOTIFY_MODES)}")
    delay = body.get("delay_seconds", 0)
    if not isinstance(delay, int | float) or isinstance(delay, bool) or not 0 <= delay <= 300:
        raise ControlError("delay_seconds must be a number from 0 to 300")
    return mode, float(delay)


def _parents(body: dict[str, Any]) -> list[str] | None:
    value = body.get("parents")
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(p, str) and p for p in value):
        raise ControlError("parents must be a non-empty list of folder ids")
    return list(value)


def _past_time(body: dict[str, Any], now: str) -> str | None:
    """An RFC 3339 ``modifiedTime`` not after now (an uploaded file keeps its own)."""
    value = _optional_string(body, "modifiedTime")
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ControlError("modifiedTime must be RFC 3339") from None
    if moment.tzinfo is None or _rfc3339(moment.timestamp()) > now:
        raise ControlError("modifiedTime must have an offset and not be in the future")
    return _rfc3339(moment.timestamp())


def _owned_file(data: DriveData, file_id: str) -> tuple[str, DriveAccount, DriveFile]:
    for sub, account in data.accounts.items():
        drive_file = account.files.get(file_id)
        if drive_file is not None:
            return sub, account, drive_file
    raise ControlError("no such file", 404)


def _record_and_notify(
    request: ControlRequest,
    data: DriveData,
    sub: str,
    account: DriveAccount,
    file_id: str,
    file_json: dict[str, Any] | None,
) -> dict[str, Any]:
    """Log the change and notify the owner's live channels; the control route's answer."""
    mode, delay = _notify_mode(request.body)
    entry = account.record(file_id, _rfc3339(request.state.now()), file_json)
    now_ms = _now_ms(request.state)
    notified: list[int] = []
    for channel in data.channels:
        if channel.sub == sub and channel.live(now_ms):
            notified += _queue_notification(
                request.state, data, channel, "change", mode, _background(delay)
            )
    return {"file_id": file_id, "change_id": entry.id, "file": file_json, "notified": notified}


def _touch(request: ControlRequest, account: DriveAccount, drive_file: DriveFile) -> None:
    actor = _optional_string(request.body, "actor")
    drive_file.modifier = actor or account.owner_name
    drive_file.modified_by_owner = actor is None
    drive_file.modified_time = _rfc3339(request.state.now())
    drive_file.version += 1


@module.control("/files")
def create_file(request: ControlRequest, data: DriveData) -> dict[str, Any]:
    """Create a file in the user's My Drive."""
    user = _control_user(request)
    body = request.body
    name = _optional_string(body, "name")
    if name is None:
        raise ControlError("name is required")
    mime_type = _optional_string(body, "mimeType") or DEFAULT_MIME_TYPE
    actor = _optional_string(body, "actor")
    _notify_mode(body)
    account = data.account(user)
    now = _rfc3339(request.state.now())
    drive_file = DriveFile(
        id="1" + secrets.token_urlsafe(24),
        name=name,
        mime_type=mime_type,
        created_time=now,
        modified_time=_past_time(body, now) or now,
        modifier=actor or account.owner_name,
        modified_by_owner=actor is None,
        parents=_parents(body) or ["root"],
    )
    account.files[drive_file.id] = drive_file
    return _record_and_notify(request, data, user.sub, account, drive_file.id, drive_file.to_json())


@module.control("/files/<file_id>", methods=["PATCH"])
def modify_file(request: ControlRequest, data: DriveData) -> dict[str, Any]:
    """Rename, move (``parents``), change the type, (un)trash, or just modify the content."""
    sub, account, drive_file = _owned_file(data, request.path_params["file_id"])
    body = request.body
    name = _optional_string(body, "name")
    mime_type = _optional_string(body, "mimeType")
    parents = _parents(body)
    trashed = body.get("trashed")
    if trashed is not None and not isinstance(trashed, bool):
        raise ControlError("trashed must be a boolean")
    _notify_mode(body)
    _touch(request, account, drive_file)
    drive_file.name = name or drive_file.name
    drive_file.mime_type = mime_type or drive_file.mime_type
    drive_file.parents = parents or drive_file.parents
    if trashed is not None:
        drive_file.trashed = trashed
        drive_file.trashed_time = drive_file.modified_time if trashed else None
    return _record_and_notify(request, data, sub, account, drive_file.id, drive_file.to_json())


@module.control("/files/<file_id>/trash")
def trash_file(request: ControlRequest, data: DriveData) -> dict[str, Any]:
    """Move a file to the trash (a change with `file.trashed: true`)."""
    sub, account, drive_file = _owned_file(data, request.path_params["file_id"])
    _notify_mode(request.body)
    _touch(request, account, drive_file)
    drive_file.trashed = True
    drive_file.trashed_time = drive_file.modified_time
    return _record_and_notify(request, data, sub, account, drive_file.id, drive_file.to_json())


@module.control("/files/<file_id>", methods=["DELETE"])
def delete_file(request: ControlRequest, data: DriveData) -> dict[str, Any]:
    """Delete a file permanently (a tombstone change: `removed: true`, no `file`)."""
    sub, account, drive_file = _owned_file(data, request.path_params["file_id"])
    _optional_string(request.body, "actor")
    _notify_mode(request.body)
    del account.files[drive_file.id]
    return _record_and_notify(request, data, sub, account, drive_file.id, None)


@module.control("/invalidate_page_tokens")
def invalidate_page_tokens(request: ControlRequest, data: DriveData) -> dict[str, Any]:
    """Make every page token issued so far invalid (400 on use); new start tokens work."""
    account = data.account(_control_user(request))
    account.oldest_page_token = account.next_change_id
    return {"start_page_token": str(account.next_change_id)}


@module.control("/channels", methods=["GET"])
def list_channels(request: ControlRequest, data: DriveData) -> dict[str, Any]:
    """Every channel ever opened, with its secret token (for tests that forge requests)."""
    now_ms = _now_ms(request.state)
    channels = [
        {
            **channel.api_json(),
            "sub": channel.sub,
            "address": channel.address,
            "token": channel.token,
            "messages_sent": channel.messages_sent,
            "stopped": channel.stopped,
            "live": channel.live(now_ms),
        }
        for channel in data.channels
    ]
    return {"channels": channels}


@module.control("/channels/<channel_id>/expire")
def expire_channel(request: ControlRequest, data: DriveData) -> dict[str, Any]:
    """Let a channel expire now, as if its lifetime had run out."""
    now_ms = _now_ms(request.state)
    matching = [c for c in data.channels if c.id == request.path_params["channel_id"]]
    if not matching:
        raise ControlError("no such channel", 404)
    for channel in matching:
        channel.expiration_ms = min(channel.expiration_ms, now_ms)
    return {"expired": len(matching)}


@module.control("/channels/<channel_id>/notify")
def notify_channel(request: ControlRequest, data: DriveData) -> dict[str, Any]:
    """Send one notification on a channel even if stopped or expired (Google has been seen to)."""
    channel_id = request.path_params["channel_id"]
    matching = [c for c in data.channels if c.id == channel_id]
    if not matching:
        raise ControlError("no such channel", 404)
    state = request.body.get("state", "change")
    if not isinstance(state, str) or not state:
        raise ControlError("state must be a non-empty string")
    mode, delay = _notify_mode(request.body)
    ids = _queue_notification(request.state, data, matching[-1], state, mode, _background(delay))
    return {"notified": ids}


@module.control("/notifications", methods=["GET"])
def list_notifications(request: ControlRequest, data: DriveData) -> dict[str, Any]:
    """Every notification sent (or dropped), oldest first, with the webhook's HTTP status."""
    return {"notifications": [dict(n) for n in data.notifications]}
