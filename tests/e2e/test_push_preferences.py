"""Preferences through the account API, honoured by push dispatch at send time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import requests

from devstack.drivers.clients import AuthUser
from devstack.drivers.pubsub import eventually
from devstack.drivers.push import (
    FakeFcm,
    device_body,
    handled,
    job_for,
    new_token,
    publish_job,
    put_device,
    write_item,
)
from shared.activity import Kind
from tests.e2e.conftest import RunningStack

DEFAULTS = {
    "categories": {"mail": True, "drive": True, "calendar": True},
    "preview": True,
    "notify_own_changes": False,
    "muted_calendars": [],
}


def _put(stack: RunningStack, user: AuthUser, body: Any) -> requests.Response:
    return requests.put(
        f"{stack.function_url('account_api')}/v1/preferences",
        json=body,
        headers={"Authorization": f"Bearer {user.id_token}"},
        timeout=20,
    )


def _get(stack: RunningStack, user: AuthUser) -> requests.Response:
    return requests.get(
        f"{stack.function_url('account_api')}/v1/preferences",
        headers={"Authorization": f"Bearer {user.id_token}"},
        timeout=20,
    )


def _with_device(stack: RunningStack, locale: str = "ko-KR") -> tuple[AuthUser, str]:
    user = stack.auth.create_user()
    token = new_token(stack.seen)
    response = put_device(
        stack.function_url("account_api"), user, "install-pref", device_body(token, locale)
    )
    assert response.status_code == 201
    return user, token


def test_defaults_then_replace(stack: RunningStack) -> None:
    user = stack.auth.create_user()
    assert _get(stack, user).json() == DEFAULTS
    wanted = {
        "categories": {"mail": True, "drive": False, "calendar": True},
        "preview": False,
        "quiet_hours": {"start": "22:30", "end": "07:00", "time_zone": "Asia/Seoul"},
        "notify_own_changes": True,
        "muted_calendars": ["primary", "c_team.ops@group.calendar.google.com"],
    }
    assert _put(stack, user, wanted).json() == wanted
    assert _get(stack, user).json() == wanted
    other = stack.auth.create_user()
    assert _get(stack, other).json() == DEFAULTS


def test_invalid_preferences_are_400_and_change_nothing(stack: RunningStack) -> None:
    user = stack.auth.create_user()
    quiet = {"start": "22:00", "end": "07:00", "time_zone": "Asia/Seoul"}
    cases = [
        ({"quiet_hours": {**quiet, "start": "24:00"}}, "quiet_hours.start"),
        ({"quiet_hours": {**quiet, "end": "7:00"}}, "quiet_hours.end"),
        ({"quiet_hours": {**quiet, "time_zone": "Mars/Olympus"}}, "quiet_hours.time_zone"),
        ({"quiet_hours": {**quiet, "end": "22:00"}}, "quiet_hours"),
        ({"categories": {"mail": "maybe"}}, "categories.mail"),
        ({"categories": {"chat": True}}, "categories.chat"),
        ({"preview": "yes"}, "preview"),
        ({"sound": True}, "sound"),
        ({"muted_calendars": ["not a calendar"]}, "muted_calendars.0"),
        ({"muted_calendars": "primary"}, "muted_calendars"),
    ]
    for body, field in cases:
        response = _put(stack, user, body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["code"] == "invalid_request"
        assert response.json()["error"]["field"] == field, (body, response.json())
    assert _get(stack, user).json() == DEFAULTS


def test_category_off_sends_nothing(stack: RunningStack) -> None:
    user, _token = _with_device(stack)
    assert _put(stack, user, {"categories": {"mail": False}}).status_code == 200
    item = write_item(stack.db, user.uid)
    job = job_for(user.uid, item)
    publish_job(stack.urls.pubsub, stack.urls.project_id, job)
    done = eventually(lambda: handled(stack.workdir, job.job_id), timeout=30)
    assert done[-1]["outcome"] == "category_off"
    assert FakeFcm(stack.urls.fake_google).messages() == []


def test_preview_off_hides_sender_and_subject(stack: RunningStack) -> None:
    user, token = _with_device(stack, "en-US")
    assert _put(stack, user, {"preview": False}).status_code == 200
    item = write_item(stack.db, user.uid, title="Secret merger", actor="Lee Jihoon")
    publish_job(stack.urls.pubsub, stack.urls.project_id, job_for(user.uid, item))
    fcm = FakeFcm(stack.urls.fake_google)
    messages = eventually(lambda: fcm.messages(token), timeout=30)
    assert messages[0]["message"]["notification"] == {
        "title": "New mail",
        "body": "You have new mail.",
    }
    assert "Secret" not in str(messages) and "Lee" not in str(messages)


def test_quiet_hours_send_data_only(stack: RunningStack) -> None:
    user, token = _with_device(stack)
    seoul = datetime.now(UTC).astimezone(ZoneInfo("Asia/Seoul"))
    quiet = {
        "start": (seoul - timedelta(hours=1)).strftime("%H:%M"),
        "end": (seoul + timedelta(hours=1)).strftime("%H:%M"),
        "time_zone": "Asia/Seoul",
    }
    assert _put(stack, user, {"quiet_hours": quiet}).status_code == 200
    item = write_item(stack.db, user.uid)
    publish_job(stack.urls.pubsub, stack.urls.project_id, job_for(user.uid, item))
    fcm = FakeFcm(stack.urls.fake_google)
    message = eventually(lambda: fcm.messages(token), timeout=30)[0]["message"]
    assert "notification" not in message
    assert message["data"]["item_id"] == item.id
    assert message["apns"]["headers"]["apns-push-type"] == "background"
    assert message["apns"]["headers"]["apns-priority"] == "5"
    assert message["apns"]["payload"]["aps"] == {"content-available": 1}
    assert message["android"]["priority"] == "normal"


def test_calendar_changes_are_always_data_only(stack: RunningStack) -> None:
    user, token = _with_device(stack)
    item = write_item(
        stack.db, user.uid, Kind.CALENDAR_CHANGED, title="Dentist", group_key="primary"
    )
    publish_job(stack.urls.pubsub, stack.urls.project_id, job_for(user.uid, item))
    fcm = FakeFcm(stack.urls.fake_google)
    message = eventually(lambda: fcm.messages(token), timeout=30)[0]["message"]
    assert "notification" not in message
    assert message["data"]["category"] == "calendar"
    assert message["android"]["ttl"] == "3600s"
    assert "Dentist" not in str(message)
