"""Drive push dispatch end to end: devices through the account API, feed items in Firestore,
jobs published to the Pub/Sub emulator, messages read back from the fake FCM."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from google.cloud import firestore

from devstack.drivers.clients import AuthUser, SeenSecrets
from shared.activity import ACTIVITY_RETENTION, ActivityItem, Kind, PushJob, push_job_id


def new_token(seen: SeenSecrets) -> str:
    """A fresh FCM-like registration token; the log audit looks for it."""
    token = f"{secrets.token_urlsafe(16)}:APA91b{secrets.token_urlsafe(100)}"
    seen.add(token)
    return token


def device_body(token: str, locale: str = "ko-KR", platform: str = "android") -> dict[str, str]:
    """A valid registration body."""
    return {
        "fcm_token": token,
        "platform": platform,
        "os_version": "14" if platform == "android" else "17.4",
        "app_version": "2.3.0",
        "model": "Pixel 8" if platform == "android" else "iPhone15,2",
        "locale": locale,
    }


def put_device(
    account_api: str, user: AuthUser, device_id: str, body: dict[str, Any]
) -> requests.Response:
    """``PUT /v1/devices/{device_id}`` as ``user``."""
    return requests.put(
        f"{account_api}/v1/devices/{device_id}",
        json=body,
        headers={"Authorization": f"Bearer {user.id_token}"},
        timeout=20,
    )


def write_item(
    db: firestore.Client,
    uid: str,
    kind: Kind = Kind.MAIL_RECEIVED,
    *,
    title: str | None = "Quarterly numbers",
    actor: str | None = "Kim Minji",
    group_key: str = "thread-1",
) -> ActivityItem:
    """Record a feed item as the receivers do."""
    now = datetime.now(UTC)
    resource_id = f"res-{secrets.token_hex(6)}"
    item = ActivityItem(
        id=secrets.token_hex(16),
        kind=kind,
        category=kind.category,
        resource_id=resource_id,
        group_key=group_key,
        title=title,
        actor=actor,
        occurred_at=now,
        created_at=now,
        expires_at=now + ACTIVITY_RETENTION,
    )
    db.collection("users").document(uid).collection("activity").document(item.id).set(
        item.model_dump()
    )
    return item


def job_for(uid: str, item: ActivityItem, created_at: datetime | None = None) -> PushJob:
    """The job the receivers publish for a feed item."""
    return PushJob(
        job_id=push_job_id(uid, item.id),
        uid=uid,
        item_id=item.id,
        kind=item.kind,
        created_at=created_at or datetime.now(UTC),
    )


def publish(pubsub: str, project_id: str, data: bytes, topic: str = "push-jobs") -> None:
    """Publish one message to a topic through the emulator's REST API."""
    response = requests.post(
        f"http://{pubsub}/v1/projects/{project_id}/topics/{topic}:publish",
        json={"messages": [{"data": base64.b64encode(data).decode()}]},
        timeout=10,
    )
    response.raise_for_status()


def publish_job(pubsub: str, project_id: str, job: PushJob) -> None:
    """Publish a push job as JSON."""
    publish(pubsub, project_id, job.model_dump_json().encode())


class FakeFcm:
    """The fake Google's FCM control routes."""

    def __init__(self, fake_google: str) -> None:
        self.base = f"{fake_google}/_control/fcm"

    def messages(self, token: str | None = None) -> list[dict[str, Any]]:
        """Messages FCM accepted (for one token)."""
        params = {"token": token} if token else {}
        response = requests.get(f"{self.base}/messages", params=params, timeout=10)
        response.raise_for_status()
        return list(response.json()["messages"])

    def unregister(self, token: str) -> None:
        """The token answers UNREGISTERED from now on."""
        requests.post(
            f"{self.base}/unregister", json={"token": token}, timeout=10
        ).raise_for_status()

    def fail(self, token: str, error_code: str, times: int = 1, **extra: Any) -> None:
        """The token's next ``times`` sends fail with ``error_code``."""
        body = {"token": token, "error_code": error_code, "times": times, **extra}
        requests.post(f"{self.base}/fail", json=body, timeout=10).raise_for_status()

    def slow(self, token: str, delay_seconds: float, times: int = 1) -> None:
        """The token's next ``times`` sends are accepted at once but answered late."""
        body = {"token": token, "delay_seconds": delay_seconds, "times": times}
        requests.post(f"{self.base}/slow", json=body, timeout=10).raise_for_status()


def dispatch_log(workdir: Path, job_id: str) -> list[dict[str, Any]]:
    """The push_dispatch log entries that name this job."""
    path = workdir / "logs" / "push_dispatch.log"
    entries = []
    for line in path.read_text().splitlines():
        if line.startswith("{") and job_id in line:
            entries.append(json.loads(line))
    return entries


def handled(workdir: Path, job_id: str) -> list[dict[str, Any]]:
    """The "push job handled" entries of a job: one per delivery that ran to the end."""
    return [e for e in dispatch_log(workdir, job_id) if e["message"] == "push job handled"]


def claims(db: firestore.Client, job_id: str) -> dict[str, str]:
    """device id -> state of the job's claims."""
    found = {}
    for snapshot in db.collection("push_claims").stream():
        data = snapshot.to_dict() or {}
        if data.get("job_id") == job_id:
            found[data["device_id"]] = data["state"]
    return found


def old(hours: int) -> datetime:
    """A moment ``hours`` ago."""
    return datetime.now(UTC) - timedelta(hours=hours)
