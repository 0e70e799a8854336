"""The fake Drive v3 change log and channels, driven by the real googleapiclient over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
import requests
from flask import Flask, Response, request
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import Resource, build
from googleapiclient.errors import HttpError

from devstack.fake_google.server import BackgroundServer
from tests.unit.fake_google.conftest import add_user, exchange_server_auth_code

pytestmark = pytest.mark.unit

ALICE = "alice@example.com"
DRIVE_METADATA = "https://www.googleapis.com/auth/drive.metadata.readonly"
FIELDS = (
    "nextPageToken,newStartPageToken,changes(changeType,time,removed,fileId,"
    "file(id,name,mimeType,trashed,createdTime,modifiedTime,lastModifyingUser/displayName))"
)


def drive_service(base_url: str, sub: str) -> Resource:
    tokens = exchange_server_auth_code(base_url, sub, [DRIVE_METADATA])
    return build(
        "drive",
        "v3",
        credentials=Credentials(token=tokens["access_token"]),
        static_discovery=True,
        client_options={"api_endpoint": f"{base_url}/drive/v3/"},
    )


@pytest.fixture
def drive(base_url: str, alice: dict[str, Any]) -> Resource:
    return drive_service(base_url, alice["sub"])


class Webhook:
    """A channel address that records every notification."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        app = Flask("webhook")

        @app.post("/hook")
        def hook() -> Response:
            self.received.append((dict(request.headers), request.get_data()))
            return Response(status=self.status)

        self.server = BackgroundServer(app)

    @property
    def address(self) -> str:
        return f"{self.server.base_url}/hook"

    def states(self) -> list[tuple[str, str]]:
        """(resource state, message number) of each notification received."""
        return [(h["X-Goog-Resource-State"], h["X-Goog-Message-Number"]) for h, _ in self.received]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    with hook.server:
        yield hook


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def control(base_url: str, method: str, path: str, **body: Any) -> dict[str, Any]:
    response = requests.request(
        method, f"{base_url}/_control/drive{path}", json=body or None, timeout=5
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def create(base_url: str, name: str, **extra: Any) -> str:
    file_id: str = control(base_url, "POST", "/files", email=ALICE, name=name, **extra)["file_id"]
    return file_id


def notifications(base_url: str) -> list[dict[str, Any]]:
    """The fake's notification log, once nothing is pending."""
    entries: list[dict[str, Any]] = []

    def settled() -> bool:
        answer = requests.get(f"{base_url}/_control/drive/notifications", timeout=5).json()
        entries[:] = answer["notifications"]
        return all(e["outcome"] != "pending" for e in entries)

    wait_for(settled)
    return entries


def error_of(caught: pytest.ExceptionInfo[HttpError]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(caught.value.content)["error"]
    return body


def changes_since(drive: Resource, token: str, **params: Any) -> dict[str, Any]:
    result: dict[str, Any] = drive.changes().list(pageToken=token, **params).execute()
    return result


def watch(drive: Resource, page_token: str, channel_id: str, address: str, **extra: Any) -> Any:
    body = {"id": channel_id, "type": "web_hook", "address": address, **extra}
    return drive.changes().watch(pageToken=page_token, body=body).execute()


def test_changes_classify_create_modify_trash_delete(base_url: str, drive: Resource) -> None:
    start = drive.changes().getStartPageToken().execute()
    assert start["kind"] == "drive#startPageToken"
    token = start["startPageToken"]
    assert changes_since(drive, token) == {
        "kind": "drive#changeList",
        "changes": [],
        "newStartPageToken": token,
    }
    file_id = create(base_url, "Plan", mimeType="application/pdf")
    page = changes_since(drive, token, fields=FIELDS)
    (created,) = page["changes"]
    assert created["fileId"] == file_id and created["removed"] is False
    assert created["file"]["name"] == "Plan" and created["file"]["trashed"] is False
    assert created["file"]["createdTime"] == created["file"]["modifiedTime"]
    assert created["file"]["lastModifyingUser"] == {"displayName": "Alice Kim"}

    token = page["newStartPageToken"]
    time.sleep(0.002)
    control(base_url, "PATCH", f"/files/{file_id}", name="Plan v2", actor="Minho Lee")
    page = changes_since(drive, token, fields=FIELDS)
    (modified,) = page["changes"]
    assert modified["file"]["name"] == "Plan v2"
    assert modified["file"]["lastModifyingUser"] == {"displayName": "Minho Lee"}
    assert modified["file"]["modifiedTime"] > modified["file"]["createdTime"]

    token = page["newStartPageToken"]
    control(base_url, "POST", f"/files/{file_id}/trash")
    page = changes_since(drive, token, fields=FIELDS)
    (trashed,) = page["changes"]
    assert trashed["removed"] is False and trashed["file"]["trashed"] is True

    token = page["newStartPageToken"]
    control(base_url, "DELETE", f"/files/{file_id}")
    page = changes_since(drive, token, fields=FIELDS)
    (deleted,) = page["changes"]
    assert deleted["removed"] is True and deleted["fileId"] == file_id and "file" not in deleted
    assert "file" not in changes_since(drive, token, includeRemoved=False)["changes"]
    assert changes_since(drive, token, includeRemoved=False)["changes"] == []
    missing = requests.post(f"{base_url}/_control/drive/files/{file_id}/trash", timeout=5)
    assert missing.status_code == 404


def test_uploads_keep_an_older_modified_time_and_moves_change_parents(
    base_url: str, drive: Resource
) -> None:
    token = drive.changes().getStartPageToken().execute()["startPageToken"]
    fields = (
        "newStartPageToken,changes(fileId,file(createdTime,modifiedTime,parents,"
        "lastModifyingUser(me)))"
    )
    file_id = create(base_url, "scan.pdf", modifiedTime="2020-05-01T09:30:00+09:00")
    page = changes_since(drive, token, fields=fields)
    (uploaded,) = page["changes"]
    assert uploaded["file"]["modifiedTime"] == "2020-05-01T00:30:00.000Z"
    assert uploaded["file"]["createdTime"] > uploaded["file"]["modifiedTime"]
    assert uploaded["file"]["parents"] == ["root"]
    assert uploaded["file"]["lastModifyingUser"] == {"me": True}
    control(base_url, "PATCH", f"/files/{file_id}", parents=["folder-2"], actor="Minho Lee")
    (moved,) = changes_since(drive, page["newStartPageToken"], fields=fields)["changes"]
    assert moved["file"]["parents"] == ["folder-2"]
    assert moved["file"]["lastModifyingUser"] == {"me": False}
    for bad in ({"modifiedTime": "2999-01-01T00:00:00Z"}, {"modifiedTime": "yesterday"}):
        response = requests.post(
            f"{base_url}/_control/drive/files", json={"email": ALICE, "name": "x", **bad}, timeout=5
        )
        assert response.status_code == 400, bad


def test_default_fields_and_field_masks(base_url: str, drive: Resource) -> None:
    token = drive.changes().getStartPageToken().execute()["startPageToken"]
    create(base_url, "Notes")
    (change,) = changes_since(drive, token)["changes"]
    assert set(change) == {"kind", "type", "changeType", "time", "removed", "fileId", "file"}
    assert set(change["file"]) == {"kind", "id", "name", "mimeType"}
    assert change["file"]["mimeType"] == "application/vnd.google-apps.document"
    everything = changes_since(drive, token, fields="*")["changes"][0]["file"]
    assert everything["trashed"] is False and "webViewLink" in everything
    only_ids = changes_since(drive, token, fields="changes/fileId")
    assert only_ids == {"changes": [{"fileId": change["fileId"]}]}
    for bad in ("changes(file(colour))", "changes(fileId", "nextPageToken(x)"):
        with pytest.raises(HttpError) as caught:
            changes_since(drive, token, fields=bad)
        error = error_of(caught)
        assert error["code"] == 400 and error["errors"][0]["location"] == "fields"


def test_changes_page_and_keep_only_the_latest_entry_per_file(
    base_url: str, drive: Resource
) -> None:
    token = drive.changes().getStartPageToken().execute()["startPageToken"]
    ids = [create(base_url, f"f{i}") for i in range(5)]
    control(base_url, "PATCH", f"/files/{ids[0]}", name="f0 renamed")
    seen: list[dict[str, Any]] = []
    pages = 0
    page_token: str | None = token
    new_start = None
    while page_token is not None:
        page = changes_since(drive, page_token, pageSize=2)
        pages += 1
        seen += page["changes"]
        page_token = page.get("nextPageToken")
        new_start = page.get("newStartPageToken")
        assert (page_token is None) != (new_start is None)
    assert pages == 3
    assert [c["fileId"] for c in seen] == [*ids[1:], ids[0]]
    assert seen[-1]["file"]["name"] == "f0 renamed"
    assert new_start is not None and changes_since(drive, new_start)["changes"] == []


def test_invalid_page_tokens(base_url: str, drive: Resource) -> None:
    old = drive.changes().getStartPageToken().execute()["startPageToken"]
    create(base_url, "a")
    future = str(int(old) + 1000)
    for token in ("not-a-token", future):
        with pytest.raises(HttpError) as caught:
            changes_since(drive, token)
        error = error_of(caught)
        assert (error["code"], error["message"]) == (400, "Invalid Value")
        assert error["errors"][0]["reason"] == "invalid"
        assert error["errors"][0]["location"] == "pageToken"
    assert len(changes_since(drive, old)["changes"]) == 1
    control(base_url, "POST", "/invalidate_page_tokens", email=ALICE)
    with pytest.raises(HttpError) as caught:
        changes_since(drive, old)
    assert error_of(caught)["code"] == 400
    with pytest.raises(HttpError) as caught:
        watch(drive, old, "c-old", "http://127.0.0.1:9/hook")
    assert error_of(caught)["code"] == 400
    fresh = drive.changes().getStartPageToken().execute()["startPageToken"]
    assert changes_since(drive, fresh)["changes"] == []


def test_watch_sends_sync_then_change_notifications(
    base_url: str, drive: Resource, webhook: Webhook
) -> None:
    token = drive.changes().getStartPageToken().execute()["startPageToken"]
    channel = watch(drive, token, "chan-1", webhook.address, token="s3cret")
    assert channel["kind"] == "api#channel" and channel["id"] == "chan-1"
    assert channel["token"] == "s3cret" and channel["resourceId"]
    assert channel["resourceUri"].startswith("https://www.googleapis.com/drive/v3/changes?")
    one_day_ms = 24 * 3600 * 1000
    assert abs(int(channel["expiration"]) - (time.time() * 1000 + one_day_ms)) < 60_000
    wait_for(lambda: len(webhook.received) == 1)
    headers, body = webhook.received[0]
    assert body == b""
    assert headers["X-Goog-Channel-Id"] == "chan-1"
    assert headers["X-Goog-Channel-Token"] == "s3cret"
    assert headers["X-Goog-Resource-Id"] == channel["resourceId"]
    assert headers["X-Goog-Resource-Uri"] == channel["resourceUri"]
    assert headers["X-Goog-Resource-State"] == "sync"
    assert headers["X-Goog-Message-Number"] == "1"
    expires = parsedate_to_datetime(headers["X-Goog-Channel-Expiration"])
    assert int(expires.timestamp()) == int(channel["expiration"]) // 1000

    file_id = create(base_url, "Budget")
    control(base_url, "POST", f"/files/{file_id}/trash")
    control(base_url, "DELETE", f"/files/{file_id}")
    wait_for(lambda: len(webhook.received) == 4)
    assert sorted(webhook.states(), key=lambda s: int(s[1])) == [
        ("sync", "1"),
        ("change", "2"),
        ("change", "3"),
        ("change", "4"),
    ]
    assert all(h["X-Goog-Resource-Id"] == channel["resourceId"] for h, _ in webhook.received)
    log = notifications(base_url)
    assert [(n["outcome"], n["status"]) for n in log] == [("sent", 200)] * 4
    listed = requests.get(f"{base_url}/_control/drive/channels", timeout=5).json()["channels"]
    assert [(c["id"], c["token"], c["live"]) for c in listed] == [("chan-1", "s3cret", True)]


def test_dropped_duplicated_and_failed_notifications(
    base_url: str, drive: Resource, webhook: Webhook
) -> None:
    token = drive.changes().getStartPageToken().execute()["startPageToken"]
    watch(drive, token, "chan-2", webhook.address)
    wait_for(lambda: len(webhook.received) == 1)
    assert "X-Goog-Channel-Token" not in webhook.received[0][0]
    create(base_url, "dropped", notify="drop")
    create(base_url, "doubled", notify="duplicate")
    wait_for(lambda: len(webhook.received) == 3)
    assert webhook.states()[1:] == [("change", "3"), ("change", "3")]
    webhook.status = 500
    create(base_url, "refused")
    log = notifications(base_url)
    assert [(n["mode"], n["outcome"], n["status"]) for n in log] == [
        ("normal", "sent", 200),
        ("drop", "dropped", None),
        ("duplicate", "sent", 200),
        ("duplicate", "sent", 200),
        ("normal", "failed", 500),
    ]
    webhook.server.stop()
    create(base_url, "unreachable")
    assert notifications(base_url)[-1]["status"] is None


def test_stop_channel_and_channel_rules(base_url: str, drive: Resource, webhook: Webhook) -> None:
    token = drive.changes().getStartPageToken().execute()["startPageToken"]
    requested = int(time.time() * 1000) + 3600 * 1000
    channel = watch(drive, token, "chan-3", webhook.address, expiration=str(requested))
    assert channel["expiration"] == str(requested)
    with pytest.raises(HttpError) as caught:
        watch(drive, token, "chan-3", webhook.address)
    assert error_of(caught)["errors"][0]["reason"] == "channelIdNotUnique"
    channels = drive.channels()
    with pytest.raises(HttpError) as caught:
        channels.stop(body={"id": "chan-3", "resourceId": "wrong"}).execute()
    assert error_of(caught)["code"] == 404
    bob = add_user(base_url, "bob@example.com", "Bob Lee")
    with pytest.raises(HttpError) as caught:
        drive_service(base_url, bob["sub"]).channels().stop(
            body={"id": "chan-3", "resourceId": channel["resourceId"]}
        ).execute()
    assert error_of(caught)["code"] == 404
    stop = {"id": "chan-3", "resourceId": channel["resourceId"]}
    assert channels.stop(body=stop).execute() == ""
    with pytest.raises(HttpError) as caught:
        channels.stop(body=stop).execute()
    assert error_of(caught)["code"] == 404
    wait_for(lambda: len(webhook.received) == 1)
    create(base_url, "after stop")
    control(base_url, "POST", "/files", sub=bob["sub"], name="bob's file")
    assert len(notifications(base_url)) == 1
    # Google has been seen to notify after a stop: the control route can do that on purpose.
    control(base_url, "POST", "/channels/chan-3/notify", state="change")
    wait_for(lambda: len(webhook.received) == 2)
    assert webhook.states() == [("sync", "1"), ("change", "2")]
    reused = watch(drive, token, "chan-3", webhook.address)
    assert reused["resourceId"] == channel["resourceId"]
    control(base_url, "POST", "/channels/chan-3/expire")
    listed = requests.get(f"{base_url}/_control/drive/channels", timeout=5).json()["channels"]
    assert [(c["stopped"], c["live"]) for c in listed] == [(True, False), (False, False)]
    create(base_url, "after expiry")
    wait_for(lambda: len(webhook.received) == 3)  # only the reused channel's sync
    assert webhook.states()[-1] == ("sync", "1")
    assert len(notifications(base_url)) == 3
