"""Push dispatch: message building, the FCM adapter's mapping, and the claim logic, with fakes
of our own ports."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import requests
import urllib3
from firebase_admin import exceptions, messaging

from shared.activity import ActivityItem, Category, Kind, PushJob
from shared.adapters.fcm import classify, to_multicast
from shared.services.devices import Device
from shared.services.preferences import Categories, Preferences, QuietHours
from shared.services.push import (
    ClaimEnd,
    NotSent,
    PushMessage,
    PushService,
    RetryLater,
    SendResult,
    SendStatus,
    build_message,
    collapse_key,
    language_of,
    silenced,
)

NOW = datetime(2025, 3, 4, 3, 0, tzinfo=UTC)  # 12:00 in Seoul


def _item(kind: Kind = Kind.MAIL_RECEIVED, **changes: object) -> ActivityItem:
    values: dict[str, object] = {
        "id": "item-1",
        "kind": kind,
        "category": kind.category,
        "resource_id": "msg-1",
        "group_key": "thread-1",
        "title": "Quarterly numbers",
        "actor": "Kim Minji",
        "occurred_at": NOW,
        "created_at": NOW,
        "expires_at": NOW + timedelta(days=30),
    }
    values.update(changes)
    return ActivityItem.model_validate(values)


def _device(index: int, locale: str = "ko-KR") -> Device:
    return Device(
        device_id=f"device-{index:04d}",
        token=f"token-{index:04d}-" + "x" * 40,
        platform="android",
        os_version="14",
        app_version="1.0",
        model="Pixel",
        locale=locale,
        created_at=NOW,
        last_seen_at=NOW,
    )


# Message building


def test_language_is_english_only_for_english_locales() -> None:
    assert [language_of(x) for x in ("en", "en-US", "EN-gb", "ko-KR", "ja-JP", "eng")] == [
        "en",
        "en",
        "en",
        "ko",
        "ko",
        "ko",
    ]


def test_mail_with_preview_shows_sender_and_subject() -> None:
    message = build_message(_item(), "ko", preview=True, quiet=False)
    assert (message.title, message.body) == ("Kim Minji", "Quarterly numbers")
    assert message.urgent and message.ttl == timedelta(hours=24)
    assert message.data == {
        "kind": "mail.received",
        "category": "mail",
        "item_id": "item-1",
        "resource_id": "msg-1",
    }


def test_preview_off_shows_generic_text_only() -> None:
    ko = build_message(_item(), "ko", preview=False, quiet=False)
    en = build_message(_item(), "en", preview=False, quiet=False)
    assert (ko.title, ko.body) == ("새 메일", "새 메일이 도착했습니다.")
    assert (en.title, en.body) == ("New mail", "You have new mail.")
    for message in (ko, en):
        assert "Kim" not in str(message) and "Quarterly" not in str(message)


def test_mail_without_subject_or_sender_and_long_subjects() -> None:
    bare = build_message(_item(title=None, actor=None), "en", preview=True, quiet=False)
    assert (bare.title, bare.body) == ("New mail", "(no subject)")
    long = build_message(_item(title="x" * 500), "en", preview=True, quiet=False)
    assert long.body is not None and len(long.body) == 160


def test_drive_preview_names_the_file() -> None:
    message = build_message(
        _item(Kind.DRIVE_CHANGED, title="Plan.docx"), "en", preview=True, quiet=False
    )
    assert (message.title, message.body) == ("File changed", "Kim Minji: Plan.docx")
    assert not message.urgent


def test_quiet_hours_and_calendar_are_data_only() -> None:
    quiet = build_message(_item(), "ko", preview=True, quiet=True)
    calendar = build_message(_item(Kind.CALENDAR_CHANGED), "ko", preview=True, quiet=False)
    for message in (quiet, calendar):
        assert message.data_only and message.body is None and not message.urgent
    assert calendar.ttl == timedelta(hours=1)


def test_own_changes_are_data_only_unless_the_user_wants_them_shown() -> None:
    own = _item(Kind.DRIVE_CREATED, title="Budget.xlsx", by_me=True)
    quiet_hours = QuietHours(start="00:00", end="23:59", time_zone="Asia/Seoul")
    assert silenced(own, Preferences(), NOW)
    assert not silenced(own, Preferences(notify_own_changes=True), NOW)
    assert silenced(own, Preferences(notify_own_changes=True, quiet_hours=quiet_hours), NOW)
    assert not silenced(_item(Kind.DRIVE_CREATED), Preferences(), NOW)


def test_a_dispatched_own_change_keeps_its_ids_but_shows_nothing() -> None:
    world, job = _world(1)
    own = _item(by_me=True)
    world.items[("uid-1", own.id)] = own
    report = _service(world).dispatch(job, NOW)
    assert report.data_only and report.sent == 1
    ((_, message),) = world.sent
    assert message.data_only and message.data["item_id"] == own.id
    assert message.collapse_key == collapse_key(own.category, own.group_key)


def test_collapse_key_is_per_thread_and_opaque() -> None:
    first = collapse_key(Category.MAIL, "thread-1")
    assert first == collapse_key(Category.MAIL, "thread-1")
    assert first != collapse_key(Category.MAIL, "thread-2")
    assert first.startswith("mail-") and "thread" not in first and len(first) <= 64


def test_firebase_message_for_a_visible_push() -> None:
    message = build_message(_item(), "en", preview=True, quiet=False)
    multicast = to_multicast(message, ["t1", "t2"], now=1000.0)
    assert multicast.tokens == ["t1", "t2"]
    assert multicast.notification.title == "Kim Minji"
    assert multicast.android.priority == "high"
    assert multicast.android.collapse_key == message.collapse_key
    assert multicast.android.notification.tag == message.collapse_key
    assert multicast.android.notification.channel_id == "mail"
    assert multicast.apns.headers == {
        "apns-push-type": "alert",
        "apns-priority": "10",
        "apns-collapse-id": message.collapse_key,
        "apns-expiration": str(1000 + 24 * 3600),
    }
    assert multicast.apns.payload.aps.thread_id == message.collapse_key
    # It encodes to what FCM v1 accepts.
    single = messaging.Message(
        token="t1",
        data=multicast.data,
        notification=multicast.notification,
        android=multicast.android,
        apns=multicast.apns,
    )
    encoded = messaging._MessagingService.encode_message(single)
    assert encoded["android"]["ttl"] == "86400s"


def test_firebase_message_for_a_data_only_push() -> None:
    message = build_message(_item(), "ko", preview=True, quiet=True)
    multicast = to_multicast(message, ["t1"], now=0.0)
    assert multicast.notification is None
    assert multicast.android.notification is None
    assert multicast.android.priority == "normal"
    assert multicast.apns.headers["apns-push-type"] == "background"
    assert multicast.apns.headers["apns-priority"] == "5"
    assert multicast.apns.payload.aps.content_available is True


def _http_error(status: int, body: dict[str, object]) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps({"error": body}).encode()
    return response


def test_fcm_errors_map_to_what_dispatch_does() -> None:
    token_violation = _http_error(
        400,
        {
            "status": "INVALID_ARGUMENT",
            "details": [
                {
                    "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                    "errorCode": "INVALID_ARGUMENT",
                },
                {
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": "message.token", "description": "bad"}],
                },
            ],
        },
    )
    payload_violation = _http_error(
        400,
        {
            "status": "INVALID_ARGUMENT",
            "message": "Invalid value at 'message.android.ttl'",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": "message.android.ttl", "description": "bad"}],
                }
            ],
        },
    )

    def answered(status: int) -> requests.Response:
        return _http_error(status, {"status": "X"})

    cases = [
        (messaging.UnregisteredError("gone", http_response=answered(404)), SendStatus.TOKEN_DEAD),
        (
            messaging.SenderIdMismatchError("other", http_response=answered(403)),
            SendStatus.TOKEN_DEAD,
        ),
        (messaging.QuotaExceededError("slow", http_response=answered(429)), SendStatus.RETRY),
        (exceptions.UnavailableError("down", http_response=answered(503)), SendStatus.RETRY),
        (exceptions.InternalError("oops", http_response=answered(500)), SendStatus.RETRY),
        (
            messaging.ThirdPartyAuthError("apns", http_response=answered(401)),
            SendStatus.CONFIG_ALARM,
        ),
        (
            exceptions.InvalidArgumentError("x", http_response=token_violation),
            SendStatus.TOKEN_DEAD,
        ),
        (
            exceptions.InvalidArgumentError("x", http_response=payload_violation),
            SendStatus.REJECTED,
        ),
        (exceptions.PermissionDeniedError("iam", http_response=answered(403)), SendStatus.REJECTED),
    ]
    for error, status in cases:
        assert classify(error).status is status, error


def test_an_fcm_send_without_an_answer_is_unknown_unless_it_never_connected() -> None:
    refused = requests.exceptions.ConnectionError(
        urllib3.exceptions.MaxRetryError(
            None,  # type: ignore[arg-type]
            "/v1/projects/p/messages:send",
            urllib3.exceptions.NewConnectionError(None, "refused"),  # type: ignore[arg-type]
        )
    )
    reset = requests.exceptions.ConnectionError(
        urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError())
    )
    cases = [
        # The request may have reached FCM: a resend could deliver twice.
        (exceptions.DeadlineExceededError("t", cause=requests.exceptions.ReadTimeout()), "unknown"),
        (exceptions.UnavailableError("reset", cause=reset), "unknown"),
        (exceptions.UnknownError("?", cause=RuntimeError()), "unknown"),
        # It never left: safe to retry.
        (exceptions.UnavailableError("refused", cause=refused), "retry"),
        (
            exceptions.DeadlineExceededError("c", cause=requests.exceptions.ConnectTimeout()),
            "retry",
        ),
    ]
    for error, status in cases:
        assert classify(error).status == status, error


# The dispatch and claim logic, with fakes of the ports


@dataclass
class FakeWorld:
    """In-memory feed, preferences, devices and claims; a scripted FCM."""

    items: dict[tuple[str, str], ActivityItem] = field(default_factory=dict)
    preferences: dict[str, Preferences] = field(default_factory=dict)
    devices: dict[str, dict[str, Device]] = field(default_factory=dict)
    claims: dict[str, dict[str, object]] = field(default_factory=dict)
    script: dict[str, list[SendStatus]] = field(default_factory=dict)
    sent: list[tuple[str, PushMessage]] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)
    fail_with: Exception | None = None
    not_sent: set[str] = field(default_factory=set)  # tokens whose request raises NotSent
    claim_writes: int = 0

    # FeedReader
    def item(self, uid: str, item_id: str) -> ActivityItem | None:
        return self.items.get((uid, item_id))

    # PreferenceStore
    def get(self, uid: str) -> Preferences | None:
        return self.preferences.get(uid)

    def put(self, uid: str, preferences: Preferences) -> None:
        self.preferences[uid] = preferences

    # DeviceLister
    def of_user(self, uid: str) -> list[Device]:
        return list(self.devices.get(uid, {}).values())

    def delete(
        self,
        uid: str,
        device_id: str,
        *,
        token_hash: str | None = None,
        seen_before: datetime | None = None,
    ) -> bool:
        device = self.devices.get(uid, {}).get(device_id)
        if device is None or (token_hash is not None and device.token_hash != token_hash):
            return False
        del self.devices[uid][device_id]
        return True

    # ClaimStore
    def claim(self, job: PushJob, device_ids: Sequence[str], now: datetime) -> list[str]:
        ours = [d for d in device_ids if f"{job.job_id}:{d}" not in self.claims]
        for device_id in ours:
            self.claims[f"{job.job_id}:{device_id}"] = {"state": "sent"}
            self.claim_writes += 1
        return ours

    def settle(self, job: PushJob, ends: Mapping[str, ClaimEnd | None], now: datetime) -> None:
        for device_id, end in ends.items():
            key = f"{job.job_id}:{device_id}"
            self.claim_writes += 1
            if end is None:
                del self.claims[key]
            else:
                self.claims[key]["state"] = end

    # PushSender
    def send(self, message: PushMessage, tokens: Sequence[str]) -> list[SendResult]:
        assert len(tokens) <= 500
        self.calls.append(len(tokens))
        if self.fail_with is not None:
            raise self.fail_with
        if self.not_sent & set(tokens):
            raise NotSent("no access token")
        results = []
        for token in tokens:
            script = self.script.get(token) or []
            status = script.pop(0) if script else SendStatus.SENT
            if status is SendStatus.SENT:
                self.sent.append((token, message))
            results.append(SendResult(status, status.value.upper()))
        return results


def _service(world: FakeWorld) -> PushService:
    return PushService(
        feed=world,
        preferences=world,
        devices=world,
        claims=world,
        sender=world,
        stale_after=timedelta(days=60),
    )


def _world(devices: int = 2, **locales: str) -> tuple[FakeWorld, PushJob]:
    world = FakeWorld()
    item = _item()
    world.items[("uid-1", item.id)] = item
    world.devices["uid-1"] = {d.device_id: d for d in (_device(i) for i in range(devices))}
    for device_id, locale in locales.items():
        old = world.devices["uid-1"][device_id.replace("_", "-")]
        world.devices["uid-1"][old.device_id] = Device(**{**old.__dict__, "locale": locale})
    job = PushJob(job_id="job-1", uid="uid-1", item_id=item.id, kind=item.kind, created_at=NOW)
    return world, job


def test_a_redelivered_job_sends_once_per_device() -> None:
    world, job = _world(3)
    service = _service(world)
    assert service.dispatch(job, NOW).sent == 3
    again = service.dispatch(job, NOW + timedelta(seconds=5))
    assert (again.sent, again.skipped) == (0, 3)
    assert len(world.sent) == 3
    assert {claim["state"] for claim in world.claims.values()} == {"sent"}


def test_a_successful_send_costs_one_claim_write_per_device() -> None:
    world, job = _world(3)
    assert _service(world).dispatch(job, NOW).sent == 3
    assert world.claim_writes == 3


def test_devices_are_grouped_by_language() -> None:
    world, job = _world(3, device_0001="en-US")
    _service(world).dispatch(job, NOW)
    titles = {token: message.title for token, message in world.sent}
    assert sorted(world.calls) == [1, 2]
    assert len(set(titles.values())) == 1  # preview shows the sender in both languages
    generic = {t: m.body for t, m in world.sent}
    assert len(generic) == 3


def test_a_transient_failure_releases_only_that_claim() -> None:
    world, job = _world(2)
    flaky = world.devices["uid-1"]["device-0000"].token
    world.script[flaky] = [SendStatus.RETRY]
    service = _service(world)
    with pytest.raises(RetryLater):
        service.dispatch(job, NOW)
    assert "job-1:device-0000" not in world.claims
    assert world.claims["job-1:device-0001"]["state"] == "sent"
    retry = service.dispatch(job, NOW + timedelta(seconds=10))
    assert retry.sent == 1
    assert sorted(token for token, _ in world.sent) == sorted(
        d.token for d in world.devices["uid-1"].values()
    )


def test_a_device_another_delivery_claimed_is_never_sent_again() -> None:
    # Another delivery is sending, or crashed after claiming: FCM may have it already.
    world, job = _world(2)
    world.claims["job-1:device-0000"] = {"state": "sent"}
    service = _service(world)
    for later in (timedelta(0), timedelta(minutes=10)):
        report = service.dispatch(job, NOW + later)
        assert report.skipped == 1 + (later > timedelta(0))
    assert [token for token, _ in world.sent] == [world.devices["uid-1"]["device-0001"].token]


def test_a_language_group_not_sent_is_released_and_sent_on_redelivery() -> None:
    world, job = _world(3, device_0002="en-US")
    world.not_sent = {world.devices["uid-1"]["device-0002"].token}
    service = _service(world)
    with pytest.raises(RetryLater):
        service.dispatch(job, NOW)
    assert sorted(world.claims) == ["job-1:device-0000", "job-1:device-0001"]
    world.not_sent = set()
    retry = service.dispatch(job, NOW + timedelta(seconds=10))
    assert (retry.sent, retry.skipped) == (1, 2)
    assert sorted(token for token, _ in world.sent) == sorted(
        d.token for d in world.devices["uid-1"].values()
    )


def test_an_unanswered_send_is_unknown_and_not_retried() -> None:
    world, job = _world(2)
    slow = world.devices["uid-1"]["device-0000"].token
    world.script[slow] = [SendStatus.UNKNOWN]
    service = _service(world)
    report = service.dispatch(job, NOW)
    assert (report.sent, report.unknown, report.released) == (1, 1, 0)
    assert world.claims["job-1:device-0000"]["state"] == "unknown"
    assert service.dispatch(job, NOW + timedelta(minutes=10)).sent == 0
    assert len(world.calls) == 1


def test_dead_tokens_delete_devices_and_alarms_keep_them() -> None:
    world, job = _world(3)
    tokens = [d.token for d in world.devices["uid-1"].values()]
    world.script[tokens[0]] = [SendStatus.TOKEN_DEAD]
    world.script[tokens[1]] = [SendStatus.CONFIG_ALARM]
    report = _service(world).dispatch(job, NOW)
    assert (report.sent, report.dropped, report.failed) == (1, 1, 1)
    assert sorted(world.devices["uid-1"]) == ["device-0001", "device-0002"]
    assert world.claims["job-1:device-0000"]["state"] == "dropped"
    assert world.claims["job-1:device-0001"]["state"] == "failed"


def test_an_unexpected_sender_error_leaves_the_chunk_unknown() -> None:
    # Some requests of the batch may have left: none is sent again.
    world, job = _world(2)
    world.fail_with = RuntimeError("network down")
    with pytest.raises(RuntimeError):
        _service(world).dispatch(job, NOW)
    assert {claim["state"] for claim in world.claims.values()} == {"unknown"}


def test_a_sender_that_sent_nothing_releases_every_claim() -> None:
    world, job = _world(2)
    world.fail_with = NotSent("no access token")
    with pytest.raises(RetryLater):
        _service(world).dispatch(job, NOW)
    assert world.claims == {}
    world.fail_with = None
    assert _service(world).dispatch(job, NOW + timedelta(seconds=10)).sent == 2


def test_more_than_500_devices_are_sent_in_chunks() -> None:
    world, job = _world(1201)
    assert _service(world).dispatch(job, NOW).sent == 1201
    assert world.calls == [500, 500, 201]


def test_preferences_are_read_at_send_time() -> None:
    world, job = _world(1)
    world.preferences["uid-1"] = Preferences(categories=Categories(mail=False))
    assert _service(world).dispatch(job, NOW).outcome == "category_off"
    world.preferences["uid-1"] = Preferences(
        quiet_hours=QuietHours(start="11:00", end="13:00", time_zone="Asia/Seoul")
    )
    report = _service(world).dispatch(job, NOW)
    assert report.data_only and world.sent[0][1].data_only


def test_missing_items_expired_jobs_and_stale_devices() -> None:
    world, job = _world(1)
    gone = job.model_copy(update={"item_id": "nope"})
    assert _service(world).dispatch(gone, NOW).outcome == "item_gone"
    assert _service(world).dispatch(job, NOW + timedelta(days=2)).outcome == "job_expired"
    stale = world.devices["uid-1"]["device-0000"]
    world.devices["uid-1"]["device-0000"] = Device(
        **{**stale.__dict__, "last_seen_at": NOW - timedelta(days=61)}
    )
    assert _service(world).dispatch(job, NOW).outcome == "no_devices"
    assert world.devices["uid-1"] == {}


def test_quiet_hours_window() -> None:
    overnight = QuietHours(start="22:00", end="07:00", time_zone="Asia/Seoul")
    seoul = lambda h, m=0: datetime(2025, 3, 4, h, m, tzinfo=UTC) - timedelta(hours=9)  # noqa: E731
    assert overnight.contains(seoul(23)) and overnight.contains(seoul(6, 59))
    assert not overnight.contains(seoul(7)) and not overnight.contains(seoul(12))
    daytime = QuietHours(start="12:00", end="13:30", time_zone="UTC")
    assert daytime.contains(datetime(2025, 1, 1, 13, 29, tzinfo=UTC))
    assert not daytime.contains(datetime(2025, 1, 1, 13, 30, tzinfo=UTC))


def test_calendar_pushes_name_their_calendar_and_can_be_muted_per_calendar() -> None:
    world, job = _world(1)
    team = "c_team@group.calendar.google.com"
    item = _item(Kind.CALENDAR_CHANGED, calendar_id=team, group_key="calendar-x")
    world.items[("uid-1", item.id)] = item
    job = job.model_copy(update={"kind": item.kind})
    world.preferences["uid-1"] = Preferences(muted_calendars=[team])
    assert _service(world).dispatch(job, NOW).outcome == "calendar_off"
    world.preferences["uid-1"] = Preferences(muted_calendars=["primary"])
    assert _service(world).dispatch(job, NOW).outcome == "sent"
    assert world.sent[0][1].data["calendar_id"] == team
    mail = build_message(_item(), language_of("en-US"), preview=True, quiet=False)
    assert "calendar_id" not in mail.data
