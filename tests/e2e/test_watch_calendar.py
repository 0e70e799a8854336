"""Calendar changes: fake Calendar channel → calendar_webhook → syncToken sync → feed + jobs;
channel authentication, renewal and unlink."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from devstack.drivers.linking import api
from devstack.drivers.maintenance import make_due, tick
from devstack.drivers.pubsub import collect, eventually, wait_len
from devstack.drivers.watch import calendar_change, calls, feed, live_channel
from tests.e2e.conftest import LinkedUser, RunningStack

EVENT = {
    "summary": "Design review",
    "start": {"dateTime": "2026-12-01T10:00:00+09:00"},
    "end": {"dateTime": "2026-12-01T11:00:00+09:00"},
}


def _change(stack: RunningStack, user: LinkedUser, action: str, **body: Any) -> dict[str, Any]:
    return calendar_change(stack.urls.fake_google, user.google["sub"], action, **body)


def _feed(stack: RunningStack, user: LinkedUser) -> list[dict[str, Any]]:
    return feed(stack.function_url("account_api"), user.auth)


def _channels(stack: RunningStack) -> list[dict[str, Any]]:
    response = requests.get(f"{stack.urls.fake_google}/_control/calendar/channels", timeout=5)
    return list(response.json()["channels"])


def _live_channel(stack: RunningStack) -> dict[str, Any]:
    return live_channel(stack.urls.fake_google, "calendar")


def _list_calls(stack: RunningStack) -> int:
    return len(calls(stack.urls.fake_google, "calendar.events.list"))


def _jobs(stack: RunningStack, expected: int) -> list[dict[str, Any]]:
    return collect(stack.push_jobs, expected)


def test_changes_become_feed_items_and_data_push_jobs(
    stack: RunningStack, linked: LinkedUser
) -> None:
    created = _change(stack, linked, "insert", event=EVENT)
    items = eventually(lambda: _feed(stack, linked))
    assert [(i["kind"], i["title"], i["resource_id"]) for i in items] == [
        ("calendar.changed", "Design review", created["id"])
    ]
    _change(stack, linked, "delete", eventId=created["id"])
    items = wait_len(lambda: _feed(stack, linked), 2)
    # A deletion keeps the title we knew; every calendar item names its calendar.
    assert items[0]["kind"] == "calendar.deleted" and items[0]["title"] == "Design review"
    assert {i["calendar_id"] for i in items} == {"primary"}
    jobs = _jobs(stack, 2)
    assert sorted(job["kind"] for job in jobs) == ["calendar.changed", "calendar.deleted"]


def test_gone_sync_token_triggers_full_resync_that_finds_deletions(
    stack: RunningStack, linked: LinkedUser
) -> None:
    keep = _change(stack, linked, "insert", event=EVENT)
    doomed = _change(stack, linked, "insert", event={**EVENT, "summary": "Cancelled later"})
    eventually(lambda: len(_feed(stack, linked)) == 2)
    channel = _live_channel(stack)
    requests.post(
        f"{stack.urls.fake_google}/_control/calendar/channels/{channel['id']}/drop_next",
        json={"count": 2},
        timeout=5,
    ).raise_for_status()
    _change(stack, linked, "delete", eventId=doomed["id"])
    _change(stack, linked, "patch", eventId=keep["id"], event={"summary": "Design review (moved)"})
    requests.post(
        f"{stack.urls.fake_google}/_control/calendar/sync_tokens/expire",
        json={"sub": linked.google["sub"]},
        timeout=5,
    ).raise_for_status()
    _change(stack, linked, "insert", event={**EVENT, "summary": "Third"})
    items = wait_len(lambda: _feed(stack, linked), 5, timeout=30)
    kinds = {(i["kind"], i["resource_id"]) for i in items[:3]}
    assert ("calendar.deleted", doomed["id"]) in kinds
    assert ("calendar.changed", keep["id"]) in kinds
    statuses = [c["status"] for c in stack.google.calls() if c["method"] == "calendar.events.list"]
    assert 410 in statuses


def test_duplicated_notifications_record_once(stack: RunningStack, linked: LinkedUser) -> None:
    channel = _live_channel(stack)
    requests.post(
        f"{stack.urls.fake_google}/_control/calendar/channels/{channel['id']}/duplicate_next",
        json={"count": 3},
        timeout=5,
    ).raise_for_status()
    _change(stack, linked, "insert", event=EVENT)
    eventually(lambda: len(_feed(stack, linked)) == 1)
    assert len(_jobs(stack, 1)) == 1
    assert len(_feed(stack, linked)) == 1


def _headers(channel: dict[str, Any], **overrides: str) -> dict[str, str]:
    headers = {
        "X-Goog-Channel-ID": channel["id"],
        "X-Goog-Channel-Token": channel["token"],
        "X-Goog-Resource-ID": channel["resourceId"],
        "X-Goog-Resource-State": "exists",
        "X-Goog-Message-Number": "99",
        "X-Goog-Resource-URI": "http://169.254.169.254/computeMetadata/v1/",  # never fetched
    }
    headers.update(overrides)
    return headers


def _post(
    stack: RunningStack,
    headers: dict[str, str],
    target: str = "calendar_webhook",
    body: bytes = b"",
) -> requests.Response:
    return requests.post(f"{stack.function_url(target)}/", headers=headers, data=body, timeout=10)


def test_authentic_notification_syncs(stack: RunningStack, linked: LinkedUser) -> None:
    channel = _live_channel(stack)
    stack.google.reset_calls()
    assert _post(stack, _headers(channel)).status_code == 200
    assert _list_calls(stack) == 1
    assert _post(stack, _headers(channel, **{"X-Goog-Resource-State": "sync"})).status_code == 200
    assert _list_calls(stack) == 1  # the handshake does no work


@pytest.mark.parametrize(
    "case",
    [
        "token_one_byte_off",
        "token_wrong_length",
        "no_token",
        "unknown_channel",
        "resource_mismatch",
        "expired",
        "wrong_receiver",
        "oversize",
        "get",
    ],
)
def test_forged_or_stale_notifications_do_no_work(
    stack: RunningStack, linked: LinkedUser, case: str
) -> None:
    channel = _live_channel(stack)
    token = channel["token"]
    target, body, method = "calendar_webhook", b"", "POST"
    headers = _headers(channel)
    if case == "token_one_byte_off":
        headers["X-Goog-Channel-Token"] = token[:-1] + ("a" if token[-1] != "a" else "b")
    elif case == "token_wrong_length":
        headers["X-Goog-Channel-Token"] = token + "x"
    elif case == "no_token":
        del headers["X-Goog-Channel-Token"]
    elif case == "unknown_channel":
        headers["X-Goog-Channel-ID"] = "0" * 36
    elif case == "resource_mismatch":
        headers["X-Goog-Resource-ID"] = "another-resource"
    elif case == "expired":
        stack.db.document(f"channels/{channel['id']}").update(
            {"expires_at": datetime.now(UTC) - timedelta(minutes=1)}
        )
    elif case == "wrong_receiver":
        target = "drive_webhook"
    elif case == "oversize":
        body = b"x" * 10_000
    else:
        method = "GET"
    stack.google.reset_calls()
    response = requests.request(
        method, f"{stack.function_url(target)}/", headers=headers, data=body, timeout=10
    )
    expected = {"oversize": 413, "get": 405}.get(case, 401)
    assert response.status_code == expected
    if expected == 401:
        assert response.json() == {
            "error": {"code": "unauthenticated", "message": "Notification rejected."}
        }
    assert _list_calls(stack) == 0
    assert not any(c["path"].startswith("/computeMetadata") for c in stack.google.calls())


def test_renewal_replaces_the_channel_before_stopping_it(
    stack: RunningStack, linked: LinkedUser
) -> None:
    old = _live_channel(stack)
    soon = datetime.now(UTC) + timedelta(hours=1)
    make_due(stack.db, linked.uid, "calendar", channel_expires_at=soon)
    tick(stack.pubsub)
    eventually(
        lambda: any(c["id"] == old["id"] and c["stopped"] for c in _channels(stack)), timeout=30
    )
    new = _live_channel(stack)
    assert new["id"] != old["id"] and new["token"] != old["token"]
    assert not stack.db.document(f"channels/{old['id']}").get().exists
    assert stack.db.document(f"channels/{new['id']}").get().exists
    # The old channel's notifications are rejected; the new one works.
    assert _post(stack, _headers(old)).status_code == 401
    _change(stack, linked, "insert", event=EVENT)
    eventually(lambda: len(_feed(stack, linked)) == 1)
    assert len(_jobs(stack, 1)) == 1


def test_unlink_stops_channels_and_later_notifications_do_nothing(
    stack: RunningStack, linked: LinkedUser
) -> None:
    channel = _live_channel(stack)
    assert (
        api(stack.function_url("account_api"), "DELETE", "/v1/google", linked.auth).status_code
        == 204
    )
    assert all(c["stopped"] for c in _channels(stack))
    watches = requests.get(f"{stack.urls.fake_google}/_control/gmail/watches", timeout=5).json()[
        "watches"
    ]
    assert not any(w["live"] for w in watches)
    stack.google.reset_calls()
    assert _post(stack, _headers(channel)).status_code == 401
    assert stack.google.calls() == []
    assert list(stack.db.collection("channels").stream()) == []
