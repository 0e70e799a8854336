"""gmail v1: profile, watch/stop, history.list, messages.list and messages.get of fake mailboxes.

Mail arrives only through the control route `/_control/gmail/deliver` (`received_at`: an older
`internalDate`, as for imported mail), which stores the message,
adds a `messageAdded` history record and, when the mailbox has a live watch whose label filter
matches, publishes `{"emailAddress", "historyId"}` to the watch's topic on the Pub/Sub emulator,
as Gmail does. Faults for the tests: dropped, duplicated or delayed notifications, stale
historyIds (`/notify`) and expired history (`/expire_history`, then `history.list` answers 404).

Behaviour copied from Google, with the source:
- historyIds grow by random gaps ("increasing but not contiguous", history.list reference).
- `history.list` with a too-old `startHistoryId` answers 404 "Requested entity was not found."
  (reference: "typically returns an HTTP 404"; the body as reported in public issue trackers);
  without `startHistoryId` it answers 400 "Missing/invalid parameter: startHistoryId".
- `format=full`/`raw` with a token holding `gmail.metadata` answers 403 "Metadata scope doesn't
  allow format FULL" (Format reference; message and reason `forbidden` from field reports, which
  also say the metadata scope restricts a token even when broader Gmail scopes come with it).
- `messages.list` returns ids and threadIds only, newest first, filtered by `labelIds` (all
  must match), without SPAM and TRASH unless `includeSpamTrash`; `q` with a token holding
  `gmail.metadata` answers 403 "Metadata scope does not support 'q' parameter" (reference: "This
  parameter cannot be used when accessing the api using the gmail.metadata scope"). The fake
  supports no search query at all (400 otherwise).
- The pushed `historyId` is a JSON number: Google's guide shows a string, but real pushes carry
  a number, so receivers must accept both.
"""

from __future__ import annotations

import base64
import functools
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from devstack.fake_google import push
from devstack.fake_google.control import ControlError
from devstack.fake_google.errors import GoogleApiError
from devstack.fake_google.registry import ApiModule, ApiRequest, ControlRequest
from devstack.fake_google.state import FakeState, FakeUser

METADATA_SCOPE = "https://www.googleapis.com/auth/gmail.metadata"
WATCH_LIFETIME_MS = 7 * 24 * 3600 * 1000
DEFAULT_MAX_RESULTS = 100
MAX_RESULTS = 500
MAX_COPIES = 100
NOTIFY_MODES = ("normal", "drop", "duplicate", "delay")
_TOPIC_NAME = re.compile(r"^projects/[^/]+/topics/[^/]+$")
_PAGE_TOKEN = re.compile(r"^\d{1,20}$")
NOT_FOUND_MESSAGE = "Requested entity was not found."


@dataclass
class Message:
    """A stored mail; only what the API methods the backend uses can show."""

    id: str
    thread_id: str
    label_ids: list[str]
    sender: str
    to: str
    subject: str
    snippet: str
    internal_date_ms: int
    history_id: int

    def headers(self) -> list[dict[str, str]]:
        """The top-level MIME headers, in Gmail's `{name, value}` form."""
        date = datetime.fromtimestamp(self.internal_date_ms / 1000, UTC)
        return [
            {"name": "From", "value": self.sender},
            {"name": "To", "value": self.to},
            {"name": "Subject", "value": self.subject},
            {"name": "Date", "value": format_datetime(date)},
            {"name": "Message-ID", "value": f"<{self.id}@mail.fake-google.test>"},
            {"name": "Content-Type", "value": 'text/plain; charset="UTF-8"'},
        ]

    def rfc822(self) -> bytes:
        """The whole message as Gmail's `raw` format holds it."""
        lines = [f"{h['name']}: {h['value']}" for h in self.headers()]
        return ("\r\n".join(lines) + "\r\n\r\n" + self.snippet + "\r\n").encode()


@dataclass
class HistoryRecord:
    """One `messageAdded` history record."""

    id: int
    message_id: str
    thread_id: str
    label_ids: list[str]


@dataclass
class Watch:
    """A mailbox's push watch (Gmail keeps at most one per user and client project)."""

    topic_name: str
    label_ids: list[str]
    # "include": notify for changes touching a listed label; "exclude": for all others.
    behavior: str
    expiration_ms: int

    def wants(self, label_ids: list[str]) -> bool:
        """Whether a change to a message with these labels is pushed."""
        if not self.label_ids:
            return True
        touches = bool(set(label_ids) & set(self.label_ids))
        return touches if self.behavior == "include" else not touches


@dataclass
class Mailbox:
    """One fake user's mailbox: messages, history and watch."""

    email: str
    history_id: int
    # A `startHistoryId` below this is too old (404); moves up on `/expire_history`.
    oldest_history_id: int
    messages: dict[str, Message] = field(default_factory=dict)
    history: list[HistoryRecord] = field(default_factory=list)
    watch: Watch | None = None

    def next_history_id(self) -> int:
        """Advance the mailbox history by a random gap, as Gmail's ids are not contiguous."""
        self.history_id += 1 + secrets.randbelow(50)
        return self.history_id

    def live_watch(self, now_ms: int) -> Watch | None:
        """The watch, unless stopped or expired."""
        if self.watch is None or self.watch.expiration_ms <= now_ms:
            return None
        return self.watch


@dataclass
class GmailData:
    """All mailboxes (by user sub) and the log of what was published."""

    mailboxes: dict[str, Mailbox] = field(default_factory=dict)
    published: list[dict[str, Any]] = field(default_factory=list)

    def mailbox(self, user: FakeUser) -> Mailbox:
        """The user's mailbox, created empty on first use."""
        mailbox = self.mailboxes.get(user.sub)
        if mailbox is None:
            start = 100_000 + secrets.randbelow(900_000)
            mailbox = Mailbox(email=user.email, history_id=start, oldest_history_id=start)
            self.mailboxes[user.sub] = mailbox
        return mailbox


module: ApiModule[GmailData] = ApiModule("gmail", GmailData)


def _now_ms(state: FakeState) -> int:
    return int(state.now() * 1000)


def _own_mailbox(request: ApiRequest, data: GmailData) -> Mailbox:
    """The caller's mailbox; `userId` must be `me` or the caller's own address."""
    user = request.caller
    wanted = request.path_params["userId"]
    if wanted != "me" and wanted.lower() != user.email.lower():
        raise GoogleApiError(403, f"Delegation denied for {user.email}", "forbidden")
    return data.mailbox(user)


def _invalid_argument(message: str) -> GoogleApiError:
    return GoogleApiError(400, message, "invalidArgument")


# API methods


@module.handler("gmail.users.getProfile")
def get_profile(request: ApiRequest, data: GmailData) -> dict[str, Any]:
    """The mailbox address, totals and current historyId."""
    mailbox = _own_mailbox(request, data)
    return {
        "emailAddress": mailbox.email,
        "messagesTotal": len(mailbox.messages),
        "threadsTotal": len({m.thread_id for m in mailbox.messages.values()}),
        "historyId": str(mailbox.history_id),
    }


@module.handler("gmail.users.watch")
def watch(request: ApiRequest, data: GmailData) -> dict[str, Any]:
    """Start (or replace) the mailbox's push watch; answers the current historyId."""
    mailbox = _own_mailbox(request, data)
    body = request.body if isinstance(request.body, dict) else {}
    topic = body.get("topicName")
    if not isinstance(topic, str) or not _TOPIC_NAME.match(topic):
        raise _invalid_argument(
            "Invalid topicName does not match projects/SOME-PROJECT/topics/SOME-TOPIC"
        )
    label_ids = body.get("labelIds") or []
    if not isinstance(label_ids, list) or not all(isinstance(x, str) for x in label_ids):
        raise _invalid_argument("Invalid labelIds")
    # labelFilterBehavior replaces the deprecated labelFilterAction, which it overrides.
    behavior = body.get("labelFilterBehavior") or body.get("labelFilterAction") or "include"
    if behavior not in ("include", "exclude"):
        raise _invalid_argument(f"Invalid labelFilterBehavior: {behavior}")
    expiration = _now_ms(request.state) + WATCH_LIFETIME_MS
    mailbox.watch = Watch(topic, list(label_ids), behavior, expiration)
    return {"historyId": str(mailbox.history_id), "expiration": str(expiration)}


@module.handler("gmail.users.stop")
def stop(request: ApiRequest, data: GmailData) -> None:
    """End the mailbox's push watch (204 even when there is none, as Gmail answers)."""
    _own_mailbox(request, data).watch = None


def _page_start(request: ApiRequest, start: int) -> int:
    """The history id after which this page starts (the page token, else `startHistoryId`)."""
    token = request.query.get("pageToken")
    if token is None:
        return start
    if not _PAGE_TOKEN.match(token):
        raise _invalid_argument("Invalid pageToken")
    return max(start, int(token))


@module.handler("gmail.users.history.list")
def list_history(request: ApiRequest, data: GmailData) -> dict[str, Any]:
    """History records after `startHistoryId` (messageAdded only), paged by `maxResults`."""
    mailbox = _own_mailbox(request, data)
    raw_start = request.query.get("startHistoryId")
    if raw_start is None:
        raise _invalid_argument("Missing/invalid parameter: startHistoryId")
    start = int(raw_start)
    if start < mailbox.oldest_history_id:
        raise GoogleApiError(404, NOT_FOUND_MESSAGE, "notFound")
    after = _page_start(request, start)
    limit = request.query.get("maxResults") or DEFAULT_MAX_RESULTS
    limit = min(limit, MAX_RESULTS)
    types = request.query.get("historyTypes")
    label = request.query.get("labelId")
    matching = [
        r
        for r in mailbox.history
        if r.id > after
        and (types is None or "messageAdded" in types)
        and (label is None or label in r.label_ids)
    ]
    page = matching[:limit]
    result: dict[str, Any] = {"historyId": str(mailbox.history_id)}
    if page:
        result["history"] = [_history_json(r) for r in page]
    if len(matching) > limit:
        result["nextPageToken"] = f"{page[-1].id:020d}"
    return result


def _history_json(record: HistoryRecord) -> dict[str, Any]:
    ids = {"id": record.message_id, "threadId": record.thread_id}
    return {
        "id": str(record.id),
        "messages": [ids],
        "messagesAdded": [{"message": {**ids, "labelIds": list(record.label_ids)}}],
    }


@module.handler("gmail.users.messages.get")
def get_message(request: ApiRequest, data: GmailData) -> dict[str, Any]:
    """One message in the requested format; the metadata scope allows no bodies."""
    mailbox = _own_mailbox(request, data)
    message_format = request.query.get("format", "full")
    if message_format in ("full", "raw") and METADATA_SCOPE in request.scopes:
        raise GoogleApiError(
            403, f"Metadata scope doesn't allow format {message_format.upper()}", "forbidden"
        )
    message = mailbox.messages.get(request.path_params["id"])
    if message is None:
        raise GoogleApiError(404, NOT_FOUND_MESSAGE, "notFound")
    raw = message.rfc822()
    result: dict[str, Any] = {
        "id": message.id,
        "threadId": message.thread_id,
        "labelIds": list(message.label_ids),
        "snippet": message.snippet,
        "sizeEstimate": len(raw),
        "historyId": str(message.history_id),
        "internalDate": str(message.internal_date_ms),
    }
    if message_format == "metadata":
        wanted = {h.lower() for h in request.query.get("metadataHeaders") or []}
        headers = [h for h in message.headers() if not wanted or h["name"].lower() in wanted]
        result["payload"] = {"mimeType": "text/plain", "headers": headers}
    elif message_format == "full":
        body = (message.snippet + "\r\n").encode()
        result["payload"] = {
            "partId": "",
            "mimeType": "text/plain",
            "filename": "",
            "headers": message.headers(),
            "body": {"size": len(body), "data": base64.urlsafe_b64encode(body).decode()},
        }
    elif message_format == "raw":
        result["raw"] = base64.urlsafe_b64encode(raw).decode()
    return result


@module.handler("gmail.users.messages.list")
def list_messages(request: ApiRequest, data: GmailData) -> dict[str, Any]:
    """Message ids, newest first, paged; the metadata scope allows no search query."""
    mailbox = _own_mailbox(request, data)
    if request.query.get("q"):
        if METADATA_SCOPE in request.scopes:
            raise GoogleApiError(403, "Metadata scope does not support 'q' parameter", "forbidden")
        raise _invalid_argument("The fake Gmail supports no search query (q).")
    labels = set(request.query.get("labelIds") or [])
    hidden = set() if request.query.get("includeSpamTrash") else {"SPAM", "TRASH"}
    matching = sorted(
        (
            m
            for m in mailbox.messages.values()
            if labels <= set(m.label_ids) and not hidden & set(m.label_ids)
        ),
        key=lambda m: (m.internal_date_ms, m.history_id),
        reverse=True,
    )
    token = request.query.get("pageToken")
    if token is not None and not _PAGE_TOKEN.match(token):
        raise _invalid_argument("Invalid pageToken")
    offset = int(token or 0)
    limit = min(request.query.get("maxResults") or DEFAULT_MAX_RESULTS, MAX_RESULTS)
    page = matching[offset : offset + limit]
    result: dict[str, Any] = {"resultSizeEstimate": len(matching)}
    if page:
        result["messages"] = [{"id": m.id, "threadId": m.thread_id} for m in page]
    if len(matching) > offset + limit:
        result["nextPageToken"] = str(offset + limit)
    return result


# Publishing


def _publish_later(
    state: FakeState,
    data: GmailData,
    mailbox: Mailbox,
    topic: str,
    history_id: int,
    mode: str,
    delay_seconds: float = 0.0,
    copies: int = 1,
) -> list[int]:
    """Record and schedule the Pub/Sub publishes of one notification; call holding the lock."""
    payload = {"emailAddress": mailbox.email, "historyId": history_id}
    sends = 0 if mode == "drop" else 2 * copies if mode == "duplicate" else copies
    entries = []
    for _ in range(max(sends, 1)):
        entry: dict[str, Any] = {
            "id": len(data.published) + 1,
            "email": mailbox.email,
            "topic": topic,
            "data": payload,
            "mode": mode,
            "outcome": "dropped" if sends == 0 else "pending",
            "status": None,
        }
        data.published.append(entry)
        entries.append(entry)
    for entry in entries[:sends]:
        push.in_background(
            functools.partial(_publish, state, entry), delay_seconds if mode == "delay" else 0.0
        )
    return [e["id"] for e in entries]


def _publish(state: FakeState, entry: dict[str, Any]) -> None:
    status = push.publish_to_pubsub(entry["topic"], entry["data"])
    with state.lock:
        entry["status"] = status
        entry["outcome"] = "sent" if status is not None and status < 300 else "failed"


# Control routes


def _control_mailbox(request: ControlRequest, data: GmailData) -> Mailbox:
    user = request.named_user()
    if user is None:
        raise ControlError("no such user (give an existing sub or email)", 404)
    return data.mailbox(user)


def _string(body: dict[str, Any], name: str, default: str) -> str:
    value = body.get(name, default)
    if not isinstance(value, str):
        raise ControlError(f"{name} must be a string")
    return value


def _notify_mode(body: dict[str, Any]) -> tuple[str, float]:
    mode = _string(body, "notify", "normal")
    if mode not in NOTIFY_MODES:
        raise ControlError(f"notify must be one of {', '.join(NOTIFY_MODES)}")
    delay = body.get("delay_seconds", 0)
    if not isinstance(delay, int | float) or isinstance(delay, bool) or not 0 <= delay <= 300:
        raise ControlError("delay_seconds must be a number from 0 to 300")
    return mode, float(delay)


def _received_ms(body: dict[str, Any], now_ms: int) -> int:
    """``received_at`` (RFC 3339, not in the future) as epoch ms, else now."""
    value = body.get("received_at")
    if value is None:
        return now_ms
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ControlError("received_at must be RFC 3339") from None
    millis = int(moment.timestamp() * 1000)
    if moment.tzinfo is None or millis > now_ms:
        raise ControlError("received_at must have an offset and not be in the future")
    return millis


@module.control("/deliver")
def deliver(request: ControlRequest, data: GmailData) -> dict[str, Any]:
    """A new mail lands in the mailbox; Gmail then pushes to a matching live watch."""
    mailbox = _control_mailbox(request, data)
    body = request.body
    labels = body.get("labels", ["INBOX"])
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ControlError("labels must be a list of strings")
    mode, delay = _notify_mode(body)
    subject = _string(body, "subject", "(no subject)")
    thread_id = body.get("thread_id")
    if thread_id is not None and not any(
        m.thread_id == thread_id for m in mailbox.messages.values()
    ):
        raise ControlError("thread_id names no thread of this mailbox", 404)
    message_id = secrets.token_hex(8)
    history_id = mailbox.next_history_id()
    message = Message(
        id=message_id,
        thread_id=thread_id or message_id,
        label_ids=list(labels),
        sender=_string(body, "from", "sender@example.com"),
        to=mailbox.email,
        subject=subject,
        snippet=_string(body, "snippet", subject),
        internal_date_ms=_received_ms(body, _now_ms(request.state)),
        history_id=history_id,
    )
    mailbox.messages[message.id] = message
    mailbox.history.append(HistoryRecord(history_id, message.id, message.thread_id, labels))
    published: list[int] = []
    live = mailbox.live_watch(_now_ms(request.state))
    if live is not None and live.wants(labels):
        published = _publish_later(
            request.state, data, mailbox, live.topic_name, history_id, mode, delay
        )
    return {
        "message_id": message.id,
        "thread_id": message.thread_id,
        "history_id": str(history_id),
        "published": published,
    }


@module.control("/notify")
def notify(request: ControlRequest, data: GmailData) -> dict[str, Any]:
    """Publish a notification now, with any (e.g. stale) historyId, to the watch's topic."""
    mailbox = _control_mailbox(request, data)
    body = request.body
    raw_history = body.get("history_id", mailbox.history_id)
    try:
        history_id = int(raw_history)
    except (TypeError, ValueError):
        raise ControlError("history_id must be an integer") from None
    copies = body.get("copies", 1)
    if not isinstance(copies, int) or not 1 <= copies <= MAX_COPIES:
        raise ControlError(f"copies must be an integer from 1 to {MAX_COPIES}")
    mode, delay = _notify_mode(body)
    live = mailbox.live_watch(_now_ms(request.state))
    topic = body.get("topic") or (live.topic_name if live else None)
    if not isinstance(topic, str):
        raise ControlError("the mailbox has no live watch (or give a topic)", 409)
    ids = _publish_later(request.state, data, mailbox, topic, history_id, mode, delay, copies)
    return {"published": ids}


@module.control("/expire_history")
def expire_history(request: ControlRequest, data: GmailData) -> dict[str, Any]:
    """Make every history id before the current one too old: `history.list` then answers 404."""
    mailbox = _control_mailbox(request, data)
    mailbox.oldest_history_id = mailbox.history_id
    mailbox.history = [r for r in mailbox.history if r.id > mailbox.history_id]
    return {"history_id": str(mailbox.history_id)}


@module.control("/expire_watch")
def expire_watch(request: ControlRequest, data: GmailData) -> dict[str, Any]:
    """Let the mailbox's watch expire now, as if nobody had renewed it for 7 days."""
    mailbox = _control_mailbox(request, data)
    if mailbox.watch is None:
        raise ControlError("the mailbox has no watch", 404)
    mailbox.watch.expiration_ms = min(mailbox.watch.expiration_ms, _now_ms(request.state))
    return {"expiration": str(mailbox.watch.expiration_ms)}


@module.control("/watches", methods=["GET"])
def list_watches(request: ControlRequest, data: GmailData) -> dict[str, Any]:
    """Every mailbox's watch, live or expired."""
    now_ms = _now_ms(request.state)
    watches = [
        {
            "sub": sub,
            "email": mailbox.email,
            "topicName": mailbox.watch.topic_name,
            "labelIds": mailbox.watch.label_ids,
            "labelFilterBehavior": mailbox.watch.behavior,
            "expiration": str(mailbox.watch.expiration_ms),
            "live": mailbox.watch.expiration_ms > now_ms,
        }
        for sub, mailbox in data.mailboxes.items()
        if mailbox.watch is not None
    ]
    return {"watches": watches}


@module.control("/published", methods=["GET"])
def list_published(request: ControlRequest, data: GmailData) -> dict[str, Any]:
    """What was published (or dropped), oldest first, with the emulator's answer."""
    return {"published": [dict(e) for e in data.published]}
