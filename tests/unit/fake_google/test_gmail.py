"""The fake Gmail v1, driven by the real googleapiclient; a tiny server stands in for Pub/Sub."""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Callable, Iterator
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
METADATA = "https://www.googleapis.com/auth/gmail.metadata"
READONLY = "https://www.googleapis.com/auth/gmail.readonly"
TOPIC = "projects/demo/topics/gmail-notifications"


def gmail_service(base_url: str, sub: str, scope: str = METADATA) -> Resource:
    tokens = exchange_server_auth_code(base_url, sub, [scope])
    return build(
        "gmail",
        "v1",
        credentials=Credentials(token=tokens["access_token"]),
        static_discovery=True,
        client_options={"api_endpoint": f"{base_url}/"},
    )


@pytest.fixture
def gmail(base_url: str, alice: dict[str, Any]) -> Resource:
    return gmail_service(base_url, alice["sub"])


class PubSubStandIn:
    """Records `:publish` calls the way the Pub/Sub emulator would receive them."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.status = 200
        app = Flask("pubsub-stand-in")

        @app.post("/v1/<path:topic>")
        def publish(topic: str) -> Response:
            body = request.get_json(force=True)
            for message in body["messages"]:
                data = json.loads(base64.b64decode(message["data"]))
                self.published.append((topic, data))
            return Response(json.dumps({"messageIds": ["1"]}), status=self.status)

        self.server = BackgroundServer(app)


@pytest.fixture
def pubsub(monkeypatch: pytest.MonkeyPatch) -> Iterator[PubSubStandIn]:
    stand_in = PubSubStandIn()
    with stand_in.server:
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", stand_in.server.base_url.split("//", 1)[1])
        yield stand_in


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def control(base_url: str, path: str, **body: Any) -> dict[str, Any]:
    response = requests.post(f"{base_url}/_control/gmail/{path}", json=body, timeout=5)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def published(base_url: str) -> list[dict[str, Any]]:
    """The fake's publish log, once nothing is pending."""
    entries: list[dict[str, Any]] = []

    def settled() -> bool:
        entries[:] = requests.get(f"{base_url}/_control/gmail/published", timeout=5).json()[
            "published"
        ]
        return all(e["outcome"] != "pending" for e in entries)

    wait_for(settled)
    return entries


def error_of(caught: pytest.ExceptionInfo[HttpError]) -> tuple[int, str, str]:
    body = json.loads(caught.value.content)["error"]
    return int(body["code"]), str(body["errors"][0]["reason"]), str(body["message"])


def start_watch(gmail: Resource) -> dict[str, Any]:
    body = {"topicName": TOPIC, "labelIds": ["INBOX"], "labelFilterBehavior": "include"}
    result: dict[str, Any] = gmail.users().watch(userId="me", body=body).execute()
    return result


def test_profile_and_watch(base_url: str, gmail: Resource) -> None:
    profile = gmail.users().getProfile(userId=ALICE).execute()
    assert profile["emailAddress"] == ALICE
    assert (profile["messagesTotal"], profile["threadsTotal"]) == (0, 0)
    watched = start_watch(gmail)
    assert watched["historyId"] == profile["historyId"]
    seven_days_ms = 7 * 24 * 3600 * 1000
    assert abs(int(watched["expiration"]) - (time.time() * 1000 + seven_days_ms)) < 60_000
    (listed,) = requests.get(f"{base_url}/_control/gmail/watches", timeout=5).json()["watches"]
    assert listed["topicName"] == TOPIC and listed["labelIds"] == ["INBOX"] and listed["live"]
    with pytest.raises(HttpError) as caught:
        gmail.users().watch(userId="me", body={"topicName": "gmail"}).execute()
    assert error_of(caught)[:2] == (400, "invalidArgument")
    with pytest.raises(HttpError) as caught:
        gmail.users().getProfile(userId="bob@example.com").execute()
    assert error_of(caught)[:2] == (403, "forbidden")


def test_new_inbox_mail_is_published_like_gmail(
    base_url: str, gmail: Resource, pubsub: PubSubStandIn
) -> None:
    start_watch(gmail)
    mail = control(base_url, "deliver", email=ALICE, **{"from": "Kim <kim@example.com>"})
    (entry,) = published(base_url)
    assert (entry["outcome"], entry["status"]) == ("sent", 200)
    assert entry["data"] == {"emailAddress": ALICE, "historyId": int(mail["history_id"])}
    assert pubsub.published == [
        (f"{TOPIC}:publish", {"emailAddress": ALICE, "historyId": int(mail["history_id"])})
    ]
    # Mail outside the watched labels is stored but not pushed.
    control(base_url, "deliver", email=ALICE, labels=["SPAM"])
    assert len(published(base_url)) == 1
    assert gmail.users().getProfile(userId="me").execute()["messagesTotal"] == 2


def test_history_pages_filters_and_grows_with_gaps(base_url: str, gmail: Resource) -> None:
    start = start_watch(gmail)["historyId"]
    delivered = [control(base_url, "deliver", email=ALICE, subject=f"s{i}") for i in range(5)]
    control(base_url, "deliver", email=ALICE, labels=["SPAM"])
    history = gmail.users().history()
    seen: list[dict[str, Any]] = []
    pages = 0
    token = None
    while True:
        page = history.list(
            userId="me",
            startHistoryId=start,
            labelId="INBOX",
            historyTypes=["messageAdded"],
            maxResults=2,
            pageToken=token,
        ).execute()
        pages += 1
        seen += page["history"]
        token = page.get("nextPageToken")
        if token is None:
            break
    assert pages == 3
    assert [r["messagesAdded"][0]["message"]["id"] for r in seen] == [
        d["message_id"] for d in delivered
    ]
    assert seen[0]["messagesAdded"][0]["message"]["labelIds"] == ["INBOX"]
    ids = [int(start)] + [int(r["id"]) for r in seen]
    assert all(b > a for a, b in itertools.pairwise(ids))
    assert page["historyId"] == gmail.users().getProfile(userId="me").execute()["historyId"]
    everything = history.list(userId="me", startHistoryId=start).execute()["history"]
    assert len(everything) == 6
    newest = history.list(userId="me", startHistoryId=page["historyId"]).execute()
    assert "history" not in newest
    labelled = history.list(userId="me", startHistoryId=start, historyTypes=["labelAdded"])
    assert "history" not in labelled.execute()


def test_too_old_or_missing_start_history_id(base_url: str, gmail: Resource) -> None:
    old = start_watch(gmail)["historyId"]
    control(base_url, "deliver", email=ALICE)
    current = control(base_url, "expire_history", email=ALICE)["history_id"]
    history = gmail.users().history()
    with pytest.raises(HttpError) as caught:
        history.list(userId="me", startHistoryId=old).execute()
    assert error_of(caught) == (404, "notFound", "Requested entity was not found.")
    assert "history" not in history.list(userId="me", startHistoryId=current).execute()
    with pytest.raises(HttpError) as caught:
        history.list(userId="me").execute()
    assert error_of(caught)[:2] == (400, "invalidArgument")


def test_metadata_scope_gets_headers_but_no_bodies(
    base_url: str, gmail: Resource, alice: dict[str, Any]
) -> None:
    mail = control(
        base_url,
        "deliver",
        email=ALICE,
        subject="Quarterly plan",
        snippet="Please review",
        **{"from": "Kim <kim@example.com>"},
    )
    messages = gmail.users().messages()
    for message_format in ("full", "raw"):
        with pytest.raises(HttpError) as caught:
            messages.get(userId="me", id=mail["message_id"], format=message_format).execute()
        expected = f"Metadata scope doesn't allow format {message_format.upper()}"
        assert error_of(caught) == (403, "forbidden", expected)
    meta = messages.get(
        userId="me", id=mail["message_id"], format="metadata", metadataHeaders=["From", "subject"]
    ).execute()
    assert meta["threadId"] == mail["thread_id"] and meta["labelIds"] == ["INBOX"]
    assert meta["historyId"] == mail["history_id"] and meta["snippet"] == "Please review"
    assert int(meta["internalDate"]) > 0 and meta["sizeEstimate"] > 0
    assert meta["payload"]["headers"] == [
        {"name": "From", "value": "Kim <kim@example.com>"},
        {"name": "Subject", "value": "Quarterly plan"},
    ]
    minimal = messages.get(userId="me", id=mail["message_id"], format="minimal").execute()
    assert "payload" not in minimal
    with pytest.raises(HttpError) as caught:
        messages.get(userId="me", id="0123456789abcdef", format="metadata").execute()
    assert error_of(caught)[:2] == (404, "notFound")
    readonly = gmail_service(base_url, alice["sub"], READONLY).users().messages()
    full = readonly.get(userId="me", id=mail["message_id"]).execute()
    assert {"name": "Subject", "value": "Quarterly plan"} in full["payload"]["headers"]
    raw = readonly.get(userId="me", id=mail["message_id"], format="raw").execute()["raw"]
    assert b"Subject: Quarterly plan" in base64.urlsafe_b64decode(raw)


def test_dropped_duplicated_delayed_and_stale_notifications(
    base_url: str, gmail: Resource, pubsub: PubSubStandIn
) -> None:
    start = start_watch(gmail)["historyId"]
    dropped = control(base_url, "deliver", email=ALICE, notify="drop")
    doubled = control(base_url, "deliver", email=ALICE, notify="duplicate")
    late = control(base_url, "deliver", email=ALICE, notify="delay", delay_seconds=0.3)
    control(base_url, "notify", email=ALICE, history_id=start, copies=3)
    entries = published(base_url)
    assert [(e["mode"], e["outcome"]) for e in entries] == [
        ("drop", "dropped"),
        ("duplicate", "sent"),
        ("duplicate", "sent"),
        ("delay", "sent"),
        ("normal", "sent"),
        ("normal", "sent"),
        ("normal", "sent"),
    ]
    pushed = sorted(data["historyId"] for _, data in pubsub.published)
    assert int(dropped["history_id"]) not in pushed
    assert pushed == sorted(
        [int(doubled["history_id"])] * 2 + [int(late["history_id"])] + [int(start)] * 3
    )


def test_stop_or_expiry_ends_the_watch(
    base_url: str, gmail: Resource, pubsub: PubSubStandIn
) -> None:
    start_watch(gmail)
    control(base_url, "expire_watch", email=ALICE)
    control(base_url, "deliver", email=ALICE)
    assert published(base_url) == []
    (expired,) = requests.get(f"{base_url}/_control/gmail/watches", timeout=5).json()["watches"]
    assert not expired["live"]
    start_watch(gmail)
    assert gmail.users().stop(userId="me").execute() == ""
    control(base_url, "deliver", email=ALICE)
    assert published(base_url) == []
    assert requests.get(f"{base_url}/_control/gmail/watches", timeout=5).json()["watches"] == []
    response = requests.post(f"{base_url}/_control/gmail/notify", json={"email": ALICE}, timeout=5)
    assert response.status_code == 409


def test_publish_failures_are_recorded(
    base_url: str, gmail: Resource, pubsub: PubSubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    start_watch(gmail)
    pubsub.status = 404
    control(base_url, "deliver", email=ALICE)
    monkeypatch.delenv("PUBSUB_EMULATOR_HOST")
    control(base_url, "deliver", email=ALICE)
    assert [(e["outcome"], e["status"]) for e in published(base_url)] == [
        ("failed", 404),
        ("failed", None),
    ]


def test_mailboxes_are_per_user(base_url: str, gmail: Resource) -> None:
    bob = add_user(base_url, "bob@example.com", "Bob Lee")
    control(base_url, "deliver", sub=bob["sub"])
    bob_gmail = gmail_service(base_url, bob["sub"])
    assert bob_gmail.users().getProfile(userId="me").execute()["messagesTotal"] == 1
    assert gmail.users().getProfile(userId="me").execute()["messagesTotal"] == 0
    missing = requests.post(
        f"{base_url}/_control/gmail/deliver", json={"email": "nobody@example.com"}, timeout=5
    )
    assert missing.status_code == 404
    bad = requests.post(
        f"{base_url}/_control/gmail/deliver", json={"email": ALICE, "notify": "x"}, timeout=5
    )
    assert bad.status_code == 400


def test_messages_list_is_newest_first_by_label_and_refuses_q_to_metadata(
    base_url: str, gmail: Resource
) -> None:
    first = control(base_url, "deliver", email=ALICE, subject="one")["message_id"]
    control(base_url, "deliver", email=ALICE, subject="spam", labels=["SPAM"])
    archived = control(base_url, "deliver", email=ALICE, subject="sent", labels=["SENT"])
    second = control(base_url, "deliver", email=ALICE, subject="two")["message_id"]
    messages = gmail.users().messages()
    inbox = messages.list(userId="me", labelIds=["INBOX"], maxResults=1).execute()
    assert [m["id"] for m in inbox["messages"]] == [second]
    rest = messages.list(
        userId="me", labelIds=["INBOX"], maxResults=1, pageToken=inbox["nextPageToken"]
    ).execute()
    assert [m["id"] for m in rest["messages"]] == [first] and "nextPageToken" not in rest
    everything = [m["id"] for m in messages.list(userId="me").execute()["messages"]]
    assert everything == [second, archived["message_id"], first]
    with pytest.raises(HttpError) as caught:
        messages.list(userId="me", q="in:inbox after:1700000000").execute()
    assert error_of(caught) == (403, "forbidden", "Metadata scope does not support 'q' parameter")


def test_imported_mail_keeps_an_older_internal_date(base_url: str, gmail: Resource) -> None:
    old = control(
        base_url, "deliver", email=ALICE, subject="old", received_at="2020-01-02T03:04:05Z"
    )
    message = (
        gmail.users().messages().get(userId="me", id=old["message_id"], format="minimal").execute()
    )
    assert message["internalDate"] == "1577934245000"
    response = requests.post(
        f"{base_url}/_control/gmail/deliver",
        json={"email": ALICE, "received_at": "2999-01-01T00:00:00Z"},
        timeout=5,
    )
    assert response.status_code == 400
