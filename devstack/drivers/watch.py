"""Drive the watch flows from outside, as Google would: mail arriving, Drive files and
calendar events changing, faults queued on Google methods, the call log, the feed.

Used by the fault-injection tests and the benchmarks (``bench/``), so every argument is a
plain URL or id rather than a test fixture.
"""

from __future__ import annotations

from typing import Any

import requests

from devstack.drivers.clients import AuthUser


def deliver_mail(fake_google: str, sub: str, subject: str, **extra: Any) -> dict[str, Any]:
    """A new INBOX mail for a Google user; the fake then notifies its Gmail watch."""
    body = {"sub": sub, "from": "Lee Boss <boss@corp.example>", "subject": subject, **extra}
    response = requests.post(f"{fake_google}/_control/gmail/deliver", json=body, timeout=10)
    response.raise_for_status()
    return dict(response.json())


def notify_gmail(fake_google: str, sub: str, **extra: Any) -> list[Any]:
    """Publish Gmail notifications now (``copies``, ``history_id``, ``notify`` mode)."""
    response = requests.post(
        f"{fake_google}/_control/gmail/notify", json={"sub": sub, **extra}, timeout=30
    )
    response.raise_for_status()
    return list(response.json()["published"])


def drive_file(
    fake_google: str, method: str = "POST", path: str = "", **body: Any
) -> dict[str, Any]:
    """Create (POST), change (PATCH ``/{id}``), trash or delete a Drive file at the fake."""
    response = requests.request(
        method, f"{fake_google}/_control/drive/files{path}", json=body, timeout=10
    )
    response.raise_for_status()
    return dict(response.json())


def calendar_change(fake_google: str, sub: str, action: str, **body: Any) -> dict[str, Any]:
    """An event inserted, patched or deleted "from another device"; channels are notified."""
    response = requests.post(
        f"{fake_google}/_control/calendar/change",
        json={"sub": sub, "action": action, **body},
        timeout=10,
    )
    response.raise_for_status()
    return dict(response.json())


def live_channel(fake_google: str, api: str, sub: str | None = None) -> dict[str, Any]:
    """The one live push channel of ``api`` (``drive`` or ``calendar``) of a Google user
    (of anyone when ``sub`` is None), with its token."""
    response = requests.get(f"{fake_google}/_control/{api}/channels", timeout=10)
    response.raise_for_status()
    live = [
        c
        for c in response.json()["channels"]
        if not c["stopped"] and c.get("live", True) and sub in (None, c.get("sub", c.get("owner")))
    ]
    assert len(live) == 1, live
    return dict(live[0])


def fault(fake_google: str, target: str, status: int, **extra: Any) -> None:
    """Queue a fault on a discovery method id (or ``oauth.token``)."""
    response = requests.post(
        f"{fake_google}/_control/faults",
        json={"target": target, "status": status, **extra},
        timeout=10,
    )
    assert response.status_code == 201, response.text


def calls(fake_google: str, method: str | None = None) -> list[dict[str, Any]]:
    """Google calls the fake received, in order (of one method id when given)."""
    params = {"method": method} if method else {}
    response = requests.get(f"{fake_google}/_control/calls", params=params, timeout=10)
    response.raise_for_status()
    return list(response.json()["calls"])


def feed(account_api: str, user: AuthUser) -> list[dict[str, Any]]:
    """The user's activity feed (first page, newest first)."""
    response = requests.get(
        f"{account_api}/v1/activity",
        headers={"Authorization": f"Bearer {user.id_token}"},
        params={"limit": 100},
        timeout=20,
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def link_status(account_api: str, user: AuthUser) -> str:
    """``GET /v1/google``: linked, relink_required or not_linked."""
    response = requests.get(
        f"{account_api}/v1/google", headers={"Authorization": f"Bearer {user.id_token}"}, timeout=20
    )
    assert response.status_code == 200, response.text
    return str(response.json()["status"])
