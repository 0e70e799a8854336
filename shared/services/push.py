"""Push dispatch: one push job to each of the user's devices, at most once per device.

The send to each device is recorded before its request leaves: a claim ``(job id, device id)``
is created (create-if-absent) in state ``sent``, in the one write that both claims the device
and records the send, so a duplicate or concurrent delivery of the job finds it and sends
nothing. An answer other than success corrects it afterwards: ``dropped`` (the token is dead;
the device is deleted), ``failed`` (FCM refused for a reason a retry cannot fix) or
``unknown`` (the request may have reached FCM but no answer came back); a transient error
deletes it (released), and the job is then redelivered by Pub/Sub (its retry policy backs
off), which sends to the released devices only. A successful send costs one write per device.

The contract is **at most once per device and job**. FCM has no idempotency key, so a send
FCM may have accepted (a timeout, a dropped connection, a crash after the claim) is never sent
again, neither by the transport nor by a redelivery. The residual risk is a lost push, never a
doubled one: a sender that dies between writing its claims and its send request (building
the request of one chunk) or while the request is in flight leaves claims that read ``sent``,
the push may not have reached the phone, and the feed still holds the item.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal, Protocol

from shared.activity import ActivityItem, Category, Kind, PushJob
from shared.logs import get_logger
from shared.services.devices import Device
from shared.services.preferences import Preferences, PreferenceStore, read

log = get_logger(__name__)

MAX_TOKENS_PER_CALL = 500  # send_each_for_multicast's limit
CLAIM_RETENTION = timedelta(days=8)  # longer than Pub/Sub keeps an unacknowledged message

Language = Literal["ko", "en"]


@dataclass(frozen=True)
class CategoryPolicy:
    """How pushes of one category are delivered."""

    ttl: timedelta  # FCM keeps the message this long for an offline device
    visible: bool  # False: always data-only (the app refreshes silently)
    urgent: bool  # Android priority high / APNs priority 10


POLICIES: dict[Category, CategoryPolicy] = {
    Category.MAIL: CategoryPolicy(ttl=timedelta(hours=24), visible=True, urgent=True),
    Category.DRIVE: CategoryPolicy(ttl=timedelta(hours=24), visible=True, urgent=False),
    Category.CALENDAR: CategoryPolicy(ttl=timedelta(hours=1), visible=False, urgent=False),
    # The app shows its own re-link prompt; the push only tells it to.
    Category.ACCOUNT: CategoryPolicy(ttl=timedelta(hours=24), visible=False, urgent=False),
}

# Generic title and body per kind: shown when previews are off (or the item has no title).
_TEXTS: dict[Language, dict[Kind, tuple[str, str]]] = {
    "ko": {
        Kind.MAIL_RECEIVED: ("새 메일", "새 메일이 도착했습니다."),
        Kind.DRIVE_CREATED: ("새 파일", "드라이브에 새 파일이 추가되었습니다."),
        Kind.DRIVE_CHANGED: ("파일 변경", "드라이브의 파일이 변경되었습니다."),
        Kind.DRIVE_RENAMED: ("파일 이름 변경", "드라이브의 파일 이름이 변경되었습니다."),
        Kind.DRIVE_MOVED: ("파일 이동", "드라이브의 파일이 이동되었습니다."),
        Kind.DRIVE_TRASHED: ("휴지통으로 이동", "드라이브의 파일이 휴지통으로 이동되었습니다."),
        Kind.DRIVE_RESTORED: ("파일 복원", "휴지통의 파일이 복원되었습니다."),
        Kind.DRIVE_DELETED: ("파일 삭제", "드라이브의 파일이 삭제되었습니다."),
        Kind.CALENDAR_CHANGED: ("일정 변경", "캘린더 일정이 변경되었습니다."),
        Kind.CALENDAR_DELETED: ("일정 삭제", "캘린더 일정이 삭제되었습니다."),
        Kind.ACCOUNT_RELINK_REQUIRED: ("Google 연결", "Google 계정을 다시 연결해 주세요."),
    },
    "en": {
        Kind.MAIL_RECEIVED: ("New mail", "You have new mail."),
        Kind.DRIVE_CREATED: ("New file", "A new file was added to your Drive."),
        Kind.DRIVE_CHANGED: ("File changed", "A file in your Drive was changed."),
        Kind.DRIVE_RENAMED: ("File renamed", "A file in your Drive was renamed."),
        Kind.DRIVE_MOVED: ("File moved", "A file in your Drive was moved."),
        Kind.DRIVE_TRASHED: ("File trashed", "A file in your Drive was moved to the trash."),
        Kind.DRIVE_RESTORED: ("File restored", "A file was restored from the trash."),
        Kind.DRIVE_DELETED: ("File deleted", "A file in your Drive was deleted."),
        Kind.CALENDAR_CHANGED: ("Event changed", "An event in your calendar was changed."),
        Kind.CALENDAR_DELETED: ("Event deleted", "An event in your calendar was deleted."),
        Kind.ACCOUNT_RELINK_REQUIRED: ("Google account", "Link your Google account again."),
    },
}
_NO_SUBJECT: dict[Language, str] = {"ko": "(제목 없음)", "en": "(no subject)"}
_MAX_TITLE, _MAX_BODY = 80, 160


def language_of(locale: str) -> Language:
    """English for ``en*`` locales, Korean (the default) for everything else."""
    return "en" if locale.lower().split("-", 1)[0] == "en" else "ko"


@dataclass(frozen=True)
class PushMessage:
    """One message for a group of devices, independent of the FCM library."""

    data: dict[str, str]  # ids only: the app fetches details itself
    title: str | None  # None: data-only (no visible notification)
    body: str | None
    collapse_key: str  # one per category and thread/file/calendar; no personal data
    ttl: timedelta
    urgent: bool

    @property
    def data_only(self) -> bool:
        """True when the message shows nothing and only wakes the app."""
        return self.title is None


def collapse_key(category: Category, group_key: str) -> str:
    """A short opaque key per thread: the id itself may be long or meaningful."""
    digest = hashlib.sha256(group_key.encode()).hexdigest()[:16]
    return f"{category.value}-{digest}"


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def visible_text(item: ActivityItem, language: Language, preview: bool) -> tuple[str, str]:
    """Title and body of the notification; names and subjects only with previews on."""
    title, body = _TEXTS[language][item.kind]
    if not preview:
        return title, body
    if item.category is Category.MAIL:
        sender = _clip(item.actor, _MAX_TITLE) if item.actor else title
        return sender, _clip(item.title, _MAX_BODY) if item.title else _NO_SUBJECT[language]
    if item.title:
        name = _clip(item.title, _MAX_BODY)
        return title, f"{_clip(item.actor, _MAX_TITLE)}: {name}" if item.actor else name
    return title, body


def silenced(item: ActivityItem, preferences: Preferences, now: datetime) -> bool:
    """Whether the preferences make this push data-only: during quiet hours, and for the
    user's own changes unless ``notify_own_changes`` (the app still refreshes its feed)."""
    own = item.by_me and not preferences.notify_own_changes
    return own or preferences.is_quiet(now)


def build_message(
    item: ActivityItem, language: Language, *, preview: bool, quiet: bool
) -> PushMessage:
    """The message for devices in one language, per the category policy; ``quiet`` (see
    ``silenced``) makes it data-only."""
    policy = POLICIES[item.category]
    visible = policy.visible and not quiet
    data = {
        "kind": item.kind.value,
        "category": item.category.value,
        "item_id": item.id,
        "resource_id": item.resource_id,
    }
    if item.calendar_id:
        data["calendar_id"] = item.calendar_id
    title, body = visible_text(item, language, preview) if visible else (None, None)
    return PushMessage(
        data=data,
        title=title,
        body=body,
        collapse_key=collapse_key(item.category, item.group_key),
        ttl=policy.ttl,
        # A silent refresh never needs to wake a device at high priority.
        urgent=policy.urgent and visible,
    )


class SendStatus(StrEnum):
    """What FCM made of one token."""

    SENT = "sent"
    TOKEN_DEAD = "token_dead"  # noqa: S105 - UNREGISTERED, SENDER_ID_MISMATCH, bad token
    RETRY = "retry"  # QUOTA_EXCEEDED, UNAVAILABLE, INTERNAL, or the request never left
    UNKNOWN = "unknown"  # timeout or lost answer: FCM may have accepted it, never resend
    CONFIG_ALARM = "config_alarm"  # THIRD_PARTY_AUTH_ERROR: APNs/web push credentials
    REJECTED = "rejected"  # anything else: a retry would fail the same way


@dataclass(frozen=True)
class SendResult:
    """The outcome for one token; ``error`` is FCM's error code, safe to log."""

    status: SendStatus
    error: str | None = None


class NotSent(Exception):
    """The sender failed before any request left (e.g. no credentials): safe to retry."""


class PushSender(Protocol):
    """Port: FCM. One result per token, in order; at most ``MAX_TOKENS_PER_CALL`` tokens.

    Raises ``NotSent`` when nothing was sent; any other exception means some requests may
    have reached FCM, and those tokens are not sent the message again.
    """

    def send(self, message: PushMessage, tokens: Sequence[str]) -> list[SendResult]: ...


class FeedReader(Protocol):
    """Port: the feed item a job names."""

    def item(self, uid: str, item_id: str) -> ActivityItem | None: ...


class DeviceLister(Protocol):
    """Port: the user's devices (a subset of ``DeviceStore``)."""

    def of_user(self, uid: str) -> list[Device]: ...

    def delete(
        self,
        uid: str,
        device_id: str,
        *,
        token_hash: str | None = None,
        seen_before: datetime | None = None,
    ) -> bool: ...


ClaimEnd = Literal["sent", "dropped", "failed", "unknown"]


class ClaimStore(Protocol):
    """Port: per (job, device) send records in ``push_claims``."""

    def claim(self, job: PushJob, device_ids: Sequence[str], now: datetime) -> list[str]:
        """Record a send of ``job`` to each device that has no record of it yet (state
        ``sent``) and return those device ids, in order: they are ours to send, the others
        were sent (or ended) by another delivery."""
        ...

    def settle(self, job: PushJob, ends: Mapping[str, ClaimEnd | None], now: datetime) -> None:
        """Correct the records of sends that did not end ``sent``; None deletes the record
        (released: a redelivery sends to that device)."""
        ...


class RetryLater(Exception):
    """Some devices still need this job: Pub/Sub must deliver it again."""


@dataclass
class Dispatch:
    """What one delivery of a job did (for logs and tests)."""

    outcome: str
    sent: int = 0
    dropped: int = 0
    failed: int = 0
    released: int = 0  # transient failure or not reached: the redelivery sends to these
    unknown: int = 0  # sent but unanswered (timeout, lost connection): not resent
    skipped: int = 0  # already sent (or ended) by another delivery of the job
    data_only: bool = False


class PushService:
    """Sends push jobs to devices via FCM, once per device."""

    def __init__(
        self,
        *,
        feed: FeedReader,
        preferences: PreferenceStore,
        devices: DeviceLister,
        claims: ClaimStore,
        sender: PushSender,
        stale_after: timedelta,
    ) -> None:
        self._feed = feed
        self._preferences = preferences
        self._devices = devices
        self._claims = claims
        self._sender = sender
        self._stale_after = stale_after

    def dispatch(self, job: PushJob, now: datetime) -> Dispatch:
        """Send the job to every device that has not had it; raise ``RetryLater`` when some
        devices must be tried again."""
        item = self._feed.item(job.uid, job.item_id)
        if item is None or item.expires_at <= now:
            return self._done(job, Dispatch("item_gone"))
        policy = POLICIES[item.category]
        if now - job.created_at > policy.ttl:
            return self._done(job, Dispatch("job_expired"))
        preferences = read(self._preferences, job.uid)
        if not preferences.categories.allows(item.category):
            return self._done(job, Dispatch("category_off"))
        if item.calendar_id and not preferences.allows_calendar(item.calendar_id):
            return self._done(job, Dispatch("calendar_off"))
        devices = self._live_devices(job.uid, now)
        if not devices:
            return self._done(job, Dispatch("no_devices"))
        quiet = silenced(item, preferences, now)
        report = Dispatch("sent", data_only=quiet or not policy.visible)
        self._send(job, item, preferences, quiet, devices, now, report)
        self._done(job, report)
        if report.released:
            raise RetryLater(f"{report.released} released")
        return report

    def _live_devices(self, uid: str, now: datetime) -> list[Device]:
        live = []
        for device in self._devices.of_user(uid):
            if device.is_stale(now, self._stale_after):
                self._devices.delete(uid, device.device_id, seen_before=now - self._stale_after)
            else:
                live.append(device)
        return live

    def _send(
        self,
        job: PushJob,
        item: ActivityItem,
        preferences: Preferences,
        quiet: bool,
        devices: list[Device],
        now: datetime,
        report: Dispatch,
    ) -> None:
        """Claim and send chunk by chunk, each chunk's claims written just before its request
        (the window in which a crash loses a push stays one request wide)."""
        ends: dict[str, ClaimEnd | None] = {}
        attempted: set[str] = set()  # claimed here: the request may have reached FCM
        unreached = {device.device_id for device in devices}  # not claimed by this delivery
        try:
            for language, group in _by_language(devices):
                message = build_message(item, language, preview=preferences.preview, quiet=quiet)
                for chunk in _chunks(group, MAX_TOKENS_PER_CALL):
                    ours = set(self._claims.claim(job, [d.device_id for d in chunk], now))
                    report.skipped += len(chunk) - len(ours)
                    unreached.difference_update(d.device_id for d in chunk)
                    mine = [device for device in chunk if device.device_id in ours]
                    if not mine:
                        continue
                    attempted.update(ours)
                    try:
                        results = self._sender.send(message, [device.token for device in mine])
                    except NotSent:
                        attempted.difference_update(ours)
                        ends.update(dict.fromkeys(ours))
                        raise
                    for device, result in zip(mine, results, strict=True):
                        ends[device.device_id] = self._end(job, device, result)
        except NotSent:
            log.warning("fcm send not attempted; claims released for a retry")
        finally:
            # An unexpected error mid-way: what may have been sent is never sent again
            # (at most once); what was not claimed yet is left to the redelivery.
            for device_id in attempted:
                ends.setdefault(device_id, "unknown")
            corrections = {device_id: end for device_id, end in ends.items() if end != "sent"}
            if corrections:
                self._claims.settle(job, corrections, now)
            report.sent = sum(1 for end in ends.values() if end == "sent")
            report.dropped = sum(1 for end in ends.values() if end == "dropped")
            report.failed = sum(1 for end in ends.values() if end == "failed")
            report.unknown = sum(1 for end in ends.values() if end == "unknown")
            report.released = sum(1 for end in ends.values() if end is None) + len(unreached)

    def _end(self, job: PushJob, device: Device, result: SendResult) -> ClaimEnd | None:
        if result.status is SendStatus.SENT:
            return "sent"
        if result.status is SendStatus.RETRY:
            log.warning("fcm send failed transiently", extra={"fcm_error": result.error})
            return None
        if result.status is SendStatus.UNKNOWN:
            # FCM may have accepted it: a resend could buzz the phone twice.
            log.warning("fcm send unanswered; not resent", extra={"fcm_error": result.error})
            return "unknown"
        if result.status is SendStatus.TOKEN_DEAD:
            # Only if the app did not register a fresh token meanwhile.
            self._devices.delete(job.uid, device.device_id, token_hash=device.token_hash)
            log.info("removed a device with a dead fcm token", extra={"fcm_error": result.error})
            return "dropped"
        if result.status is SendStatus.CONFIG_ALARM:
            log.error(
                "fcm third-party credentials rejected (APNs or web push configuration)",
                extra={"alert": "fcm_third_party_auth", "fcm_error": result.error},
            )
            return "failed"
        log.error(
            "fcm rejected a message", extra={"alert": "fcm_rejected", "fcm_error": result.error}
        )
        return "failed"

    def _done(self, job: PushJob, report: Dispatch) -> Dispatch:
        log.info(
            "push job handled",
            extra={
                "job_id": job.job_id,
                "kind": job.kind.value,
                "outcome": report.outcome,
                "sent": report.sent,
                "dropped": report.dropped,
                "failed": report.failed,
                "released": report.released,
                "unknown": report.unknown,
                "skipped": report.skipped,
                "data_only": report.data_only,
            },
        )
        return report


def _by_language(devices: list[Device]) -> Iterator[tuple[Language, list[Device]]]:
    groups: dict[Language, list[Device]] = {}
    for device in devices:
        groups.setdefault(language_of(device.locale), []).append(device)
    yield from groups.items()


def _chunks(devices: list[Device], size: int) -> Iterator[list[Device]]:
    for start in range(0, len(devices), size):
        yield devices[start : start + size]
