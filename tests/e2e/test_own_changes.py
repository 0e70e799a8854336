"""One's own actions are in the feed (``by_me``) but buzz no phone unless the user asks.

Drive tells us through ``lastModifyingUser.me``; for Calendar, writes made through our own
calendar API are recognised by the version Google answered. The push of an own change is
data-only (the app refreshes its feed silently); ``notify_own_changes`` shows it again.
"""

from __future__ import annotations

from typing import Any

import requests

from devstack.drivers.calendar import CalendarApi, timed
from devstack.drivers.pubsub import eventually, wait_len
from devstack.drivers.push import FakeFcm, device_body, new_token, put_device
from devstack.drivers.watch import calendar_change, drive_file, feed
from tests.e2e.conftest import LinkedUser, RunningStack


def _phone(stack: RunningStack, user: LinkedUser) -> str:
    token = new_token(stack.seen)
    account = stack.function_url("account_api")
    assert put_device(account, user.auth, "phone-0001", device_body(token)).status_code == 201
    return token


def _feed(stack: RunningStack, user: LinkedUser) -> list[dict[str, Any]]:
    return feed(stack.function_url("account_api"), user.auth)


def _notify_own_changes(stack: RunningStack, user: LinkedUser) -> None:
    response = requests.put(
        f"{stack.function_url('account_api')}/v1/preferences",
        json={"notify_own_changes": True},
        headers={"Authorization": f"Bearer {user.auth.id_token}"},
        timeout=20,
    )
    assert response.status_code == 200, response.text


def _pushed_file(stack: RunningStack, user: LinkedUser, token: str) -> dict[str, Any]:
    """Create a Drive file as the user; the one message the phone got for its feed item."""
    drive_file(stack.urls.fake_google, sub=user.google["sub"], name="Budget.xlsx")
    (item,) = eventually(lambda: _feed(stack, user), timeout=60)
    fcm = FakeFcm(stack.urls.fake_google)
    (message,) = eventually(lambda: fcm.messages(token), timeout=60)
    assert message["message"]["data"]["item_id"] == item["id"]
    return {"item": item, "message": message["message"]}


def test_a_drive_file_made_by_the_user_is_by_me_and_shows_no_notification(
    stack: RunningStack, linked: LinkedUser
) -> None:
    token = _phone(stack, linked)
    pushed = _pushed_file(stack, linked, token)
    assert pushed["item"]["kind"] == "drive.created" and pushed["item"]["by_me"] is True
    message = pushed["message"]
    assert "notification" not in message  # data-only: the app refreshes silently
    assert message["apns"]["headers"]["apns-push-type"] == "background"
    # What the app needs to drop a duplicate is there even in a data-only push.
    assert message["apns"]["headers"]["apns-collapse-id"] == message["android"]["collapse_key"]


def test_with_notify_own_changes_the_users_own_file_is_shown(
    stack: RunningStack, linked: LinkedUser
) -> None:
    token = _phone(stack, linked)
    _notify_own_changes(stack, linked)
    pushed = _pushed_file(stack, linked, token)
    assert pushed["item"]["by_me"] is True
    message = pushed["message"]
    assert message["notification"]["title"] == "새 파일"
    assert message["android"]["notification"]["tag"] == message["android"]["collapse_key"]
    assert message["apns"]["headers"]["apns-push-type"] == "alert"


def test_someone_elses_drive_change_is_not_by_me(stack: RunningStack, linked: LinkedUser) -> None:
    token = _phone(stack, linked)
    drive_file(stack.urls.fake_google, sub=linked.google["sub"], name="Plan.docx", actor="Kim")
    (item,) = eventually(lambda: _feed(stack, linked), timeout=60)
    assert item["by_me"] is False
    fcm = FakeFcm(stack.urls.fake_google)
    (message,) = eventually(lambda: fcm.messages(token), timeout=60)
    assert message["message"]["notification"]["body"] == "Kim: Plan.docx"


def test_calendar_writes_through_our_api_are_by_me(stack: RunningStack, linked: LinkedUser) -> None:
    calendar = CalendarApi(stack.function_url("calendar_api"), linked.auth)
    created = calendar.call(
        "POST",
        "/v1/calendars/primary/events",
        json=timed("2026-12-01T10:00:00+09:00", "2026-12-01T11:00:00+09:00", summary="Mine"),
    )
    assert created.status_code == 201, created.text
    event_id = created.json()["id"]
    eventually(lambda: len(_feed(stack, linked)) == 1, timeout=60)
    patched = calendar.call(
        "PATCH", f"/v1/calendars/primary/events/{event_id}", json={"summary": "Mine, moved"}
    )
    assert patched.status_code == 200, patched.text
    eventually(lambda: len(_feed(stack, linked)) == 2, timeout=60)
    # The same event changed from another device: not by me.
    calendar_change(
        stack.urls.fake_google,
        linked.google["sub"],
        "patch",
        eventId=event_id,
        event={"summary": "Theirs"},
    )
    eventually(lambda: len(_feed(stack, linked)) == 3, timeout=60)
    deleted = calendar.call("DELETE", f"/v1/calendars/primary/events/{event_id}")
    assert deleted.status_code == 204
    items = wait_len(lambda: _feed(stack, linked), 4, timeout=60)
    mine = [(item["kind"], item.get("title"), item["by_me"]) for item in reversed(items)]
    assert mine == [
        ("calendar.changed", "Mine", True),
        ("calendar.changed", "Mine, moved", True),
        ("calendar.changed", "Theirs", False),
        ("calendar.deleted", "Theirs", True),  # a deletion keeps the title last seen
    ]
