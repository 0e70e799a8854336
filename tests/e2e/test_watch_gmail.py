"""Gmail arrivals: fake Gmail → Pub/Sub emulator → gmail_receiver → feed item + push job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from devstack.drivers.linking import api
from devstack.drivers.maintenance import make_due, reconcile_due, tick
from devstack.drivers.pubsub import collect, eventually, wait_len
from devstack.drivers.watch import calls, deliver_mail, feed, notify_gmail
from tests.e2e.conftest import LinkedUser, RunningStack


def _deliver(stack: RunningStack, user: LinkedUser, subject: str, **extra: Any) -> dict[str, Any]:
    return deliver_mail(stack.urls.fake_google, user.google["sub"], subject, **extra)


def _notify(stack: RunningStack, user: LinkedUser, **extra: Any) -> None:
    notify_gmail(stack.urls.fake_google, user.google["sub"], **extra)


def _feed(stack: RunningStack, user: LinkedUser) -> list[dict[str, Any]]:
    return feed(stack.function_url("account_api"), user.auth)


def _calls(stack: RunningStack, method: str) -> int:
    return len(calls(stack.urls.fake_google, method))


def _settled_jobs(stack: RunningStack, expected: int) -> list[dict[str, Any]]:
    return collect(stack.push_jobs, expected)


def test_new_mail_becomes_one_feed_item_and_one_push_job(
    stack: RunningStack, linked: LinkedUser
) -> None:
    mail = _deliver(stack, linked, "Quarterly report")
    items = eventually(lambda: _feed(stack, linked))
    assert len(items) == 1
    item = items[0]
    assert item["kind"] == "mail.received" and item["resource_id"] == mail["message_id"]
    assert item["title"] == "Quarterly report" and item["actor"] == "Lee Boss"
    jobs = _settled_jobs(stack, 1)
    assert len(jobs) == 1 and jobs[0]["uid"] == linked.uid and jobs[0]["item_id"] == item["id"]
    # No personal data: ids, the kind, the time and the notification's trace id.
    assert set(jobs[0]) == {"job_id", "uid", "item_id", "kind", "created_at", "trace_id"}
    # Only metadata was requested, never a body.
    gets = [c for c in stack.google.calls() if c["method"] == "gmail.users.messages.get"]
    assert gets and all(c["query"].get("format") == "metadata" for c in gets)


def test_burst_of_duplicate_notifications_coalesces(
    stack: RunningStack, linked: LinkedUser
) -> None:
    for index in range(5):
        _deliver(stack, linked, f"mail {index}", notify="drop")
    stack.google.reset_calls()
    _notify(stack, linked, copies=50)
    eventually(lambda: len(_feed(stack, linked)) == 5, timeout=40)
    jobs = _settled_jobs(stack, 5)
    assert len(jobs) == 5 and len({job["item_id"] for job in jobs}) == 5
    history_calls = _calls(stack, "gmail.users.history.list")
    # 50 notifications: one lease holder runs a pass, the rest mark the mailbox dirty (at most
    # one follow-up pass per lease), and notifications newer than nothing are stale.
    assert 1 <= history_calls <= 10, history_calls
    assert len(_feed(stack, linked)) == 5


def test_stale_notification_is_acknowledged_without_sync(
    stack: RunningStack, linked: LinkedUser
) -> None:
    _deliver(stack, linked, "first")
    eventually(lambda: len(_feed(stack, linked)) == 1)
    _settled_jobs(stack, 1)
    stack.google.reset_calls()
    _notify(stack, linked, history_id=1)
    eventually(lambda: _published_acked(stack))
    assert _calls(stack, "gmail.users.history.list") == 0
    assert len(_feed(stack, linked)) == 1


def _published_acked(stack: RunningStack) -> bool:
    published = requests.get(f"{stack.urls.fake_google}/_control/gmail/published", timeout=5).json()
    return bool(published["published"]) and all(p.get("outcome") for p in published["published"])


def test_expired_history_resyncs_without_old_mail(stack: RunningStack, linked: LinkedUser) -> None:
    # Mail from before the last pass (here an import dated yesterday) is never pushed, even
    # when the recovery after a 404 lists the inbox; recent mail is: see test_feed_truth.py.
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    _deliver(stack, linked, "missed while away", notify="drop", received_at=yesterday)
    requests.post(
        f"{stack.urls.fake_google}/_control/gmail/expire_history",
        json={"sub": linked.google["sub"]},
        timeout=5,
    ).raise_for_status()
    _notify(stack, linked)
    eventually(lambda: _calls(stack, "gmail.users.getProfile") >= 2)  # link + resync
    _deliver(stack, linked, "after the gap")
    items = eventually(lambda: _feed(stack, linked))
    assert [item["title"] for item in items] == ["after the gap"]


def test_dropped_notification_is_caught_by_reconcile(
    stack: RunningStack, linked: LinkedUser
) -> None:
    _deliver(stack, linked, "never pushed", notify="drop")
    reconcile_due(stack.db, linked.uid, "gmail")
    tick(stack.pubsub)
    items = eventually(lambda: _feed(stack, linked), timeout=30)
    assert [item["title"] for item in items] == ["never pushed"]
    assert len(_settled_jobs(stack, 1)) == 1


def test_failure_mid_sync_is_retried_without_loss_or_duplicate(
    stack: RunningStack, linked: LinkedUser
) -> None:
    requests.post(
        f"{stack.urls.fake_google}/_control/faults",
        json={"target": "gmail.users.messages.get", "status": 503, "times": 2},
        timeout=5,
    ).raise_for_status()
    _deliver(stack, linked, "survives a crash")
    items = eventually(lambda: _feed(stack, linked), timeout=40)
    assert [item["title"] for item in items] == ["survives a crash"]
    assert len(_settled_jobs(stack, 1)) == 1


def test_malformed_and_unknown_messages_are_acknowledged(
    stack: RunningStack, linked: LinkedUser
) -> None:
    stack.pubsub.publish("gmail-notifications", b"not json at all")
    stack.pubsub.publish_json(
        "gmail-notifications", {"emailAddress": "nobody@gmail.example", "historyId": "5"}
    )
    stack.pubsub.publish_json(
        "gmail-notifications", {"emailAddress": linked.email, "historyId": "-3"}
    )
    _deliver(stack, linked, "still flows")
    eventually(lambda: len(_feed(stack, linked)) == 1, timeout=30)
    assert len(_settled_jobs(stack, 1)) == 1


def test_feed_pages_newest_first_and_filters(stack: RunningStack, linked: LinkedUser) -> None:
    for index in range(3):
        _deliver(stack, linked, f"mail {index}")
        wait_len(lambda: _feed(stack, linked), index + 1)
    account = stack.function_url("account_api")
    first = api(account, "GET", "/v1/activity", linked.auth, params={"limit": 2}).json()
    assert [item["title"] for item in first["items"]] == ["mail 2", "mail 1"]
    second = api(
        account,
        "GET",
        "/v1/activity",
        linked.auth,
        params={"limit": 2, "page_token": first["next_page_token"]},
    ).json()
    assert [item["title"] for item in second["items"]] == ["mail 0"]
    assert second.get("next_page_token") is None
    none = api(account, "GET", "/v1/activity", linked.auth, params={"category": "drive"}).json()
    assert none["items"] == []
    for bad in ({"limit": 0}, {"limit": 1000}, {"page_token": "!!"}, {"category": "ads"}, {"x": 1}):
        response = api(account, "GET", "/v1/activity", linked.auth, params=bad)
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_request"


def test_gmail_watch_is_renewed_daily(stack: RunningStack, linked: LinkedUser) -> None:
    cursor = stack.db.document(f"users/{linked.uid}/cursors/gmail")
    make_due(stack.db, linked.uid, "gmail", watch_expires_at=datetime.now(UTC) + timedelta(days=5))
    stack.google.reset_calls()
    tick(stack.pubsub)
    eventually(lambda: _calls(stack, "gmail.users.watch") == 1, timeout=30)
    renewed = (cursor.get().to_dict() or {})["watch_expires_at"]
    assert renewed > datetime.now(UTC) + timedelta(days=6)
