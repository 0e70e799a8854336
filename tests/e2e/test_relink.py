"""A grant revoked at Google while our access token is still cached: every path (Gmail,
Drive and Calendar notifications, channel renewal, reconcile) refreshes once, turns the
account ``relink_required``, stops its watches on our side, acknowledges the notification
and tells the user's phone to ask for a new link."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import requests

from devstack.drivers.maintenance import make_due, reconcile_due, tick
from devstack.drivers.pubsub import eventually
from devstack.drivers.push import FakeFcm, device_body, new_token, put_device
from devstack.drivers.watch import calendar_change, calls, deliver_mail, drive_file, link_status
from tests.e2e.conftest import LinkedUser, RunningStack

EVENT = {
    "summary": "Design review",
    "start": {"dateTime": "2026-12-01T10:00:00+09:00"},
    "end": {"dateTime": "2026-12-01T11:00:00+09:00"},
}


def _mail(stack: RunningStack, user: LinkedUser) -> None:
    deliver_mail(stack.urls.fake_google, user.google["sub"], "after revocation")


def _drive(stack: RunningStack, user: LinkedUser) -> None:
    drive_file(stack.urls.fake_google, sub=user.google["sub"], name="Budget.xlsx")


def _calendar(stack: RunningStack, user: LinkedUser) -> None:
    calendar_change(stack.urls.fake_google, user.google["sub"], "insert", event=EVENT)


def _renew(stack: RunningStack, user: LinkedUser) -> None:
    soon = datetime.now(UTC) + timedelta(minutes=5)
    make_due(stack.db, user.uid, "drive", channel_expires_at=soon)
    tick(stack.pubsub)


def _reconcile(stack: RunningStack, user: LinkedUser) -> None:
    reconcile_due(stack.db, user.uid)
    tick(stack.pubsub)


CAUSES: dict[str, Callable[[RunningStack, LinkedUser], None]] = {
    "gmail": _mail,
    "drive": _drive,
    "calendar": _calendar,
    "renewal": _renew,
    "reconcile": _reconcile,
}


@pytest.mark.parametrize("cause", sorted(CAUSES))
def test_revoked_grant_turns_relink_required_once(
    stack: RunningStack, linked: LinkedUser, cause: str
) -> None:
    account = stack.function_url("account_api")
    token = new_token(stack.seen)
    put_device(account, linked.auth, "phone-relink", device_body(token))
    secret = stack.db.document(f"users/{linked.uid}/secrets/google")
    cached = secret.get().to_dict() or {}
    assert cached["access_expires_at"] > datetime.now(UTC) + timedelta(minutes=10)
    requests.post(
        f"{stack.urls.fake_google}/_control/revoke_user",
        json={"sub": linked.google["sub"]},
        timeout=10,
    ).raise_for_status()
    stack.google.reset_calls()

    CAUSES[cause](stack, linked)

    eventually(lambda: link_status(account, linked.auth) == "relink_required", timeout=60)
    fcm = FakeFcm(stack.urls.fake_google)
    sent = eventually(lambda: fcm.messages(token), timeout=60)
    time.sleep(3)  # a redelivered notification or a second push would show by now
    assert [m["message"]["data"]["kind"] for m in fcm.messages(token)] == [
        "account.relink_required"
    ]
    assert "notification" not in sent[0]["message"]  # data-only: the app shows its prompt
    log = calls(stack.urls.fake_google)
    refreshes = [c for c in log if c.get("grant_type") == "refresh_token"]
    assert len(refreshes) <= 1 and all(c["status"] == 400 for c in refreshes)
    assert len([c for c in log if c["status"] == 401]) <= 2
    # Watches stopped on our side: no channel and no Gmail route is left to act on.
    assert list(stack.db.collection("channels").where("uid", "==", linked.uid).stream()) == []
    assert not secret.get().exists
    # The account reads relink_required in the app's view too.
    google = requests.get(
        f"{account}/v1/google",
        headers={"Authorization": f"Bearer {linked.auth.id_token}"},
        timeout=20,
    ).json()
    assert google["status"] == "relink_required"
    # Later notifications are acknowledged without calling Google again.
    stack.google.reset_calls()
    _mail(stack, linked)
    time.sleep(3)
    assert calls(stack.urls.fake_google, "gmail.users.history.list") == []
