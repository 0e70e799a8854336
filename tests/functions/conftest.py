"""The in-process function tier: each deployed function, loaded by functions-framework's
``create_app`` from its own source file, over a container of in-memory fakes of our ports.

A test gets a ``World`` (the fakes, already installed as the instance's container) and
asks it for a function's test client. Event functions are driven with the CloudEvent that
Eventarc delivers for a Pub/Sub message (binary or structured mode), or with a raw Pub/Sub
push, which functions-framework converts.
"""

from __future__ import annotations

import base64
import json
import sys
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import functions_framework
import pytest
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent
from flask.testing import FlaskClient
from functions_framework import create_app
from werkzeug.test import TestResponse

from devstack.topology import FUNCTIONS
from shared import bootstrap
from shared.bootstrap import Container
from shared.ports.sync import SourceKind
from shared.scopes import Feature
from shared.services.calendar import CalendarService
from shared.services.devices import DevicesService
from shared.services.linking import LinkingService
from shared.services.push import PushService
from shared.settings import Settings
from tests.functions.fakes import (
    FakeAuthenticator,
    FakeChannelSource,
    FakeCredentials,
    FakeFcm,
    FakeMailbox,
    FakeOAuth,
    FakeVault,
    Journal,
    MemoryCalendar,
    MemoryChannels,
    MemoryClaims,
    MemoryDevices,
    MemoryLinks,
    MemoryOwnChanges,
    MemoryPreferences,
    MemorySyncStore,
    RecordingPublisher,
    RecordingQueue,
    Unreachable,
)

ROOT = Path(__file__).resolve().parents[2]

# How each function is triggered (functions-framework signature type).
SIGNATURES = {spec.target: spec.signature for spec in FUNCTIONS}

# Explicit settings: nothing read from the environment matters to this tier.
SETTINGS = Settings(
    production=False,
    google_cloud_project="demo-functions",
    max_request_bytes=4096,
    app_deep_link="https://app.example.test/google-link",
    oauth_state_ttl_seconds=600,
    push_jobs_topic="push-jobs",
    gmail_topic="gmail-notifications",
    calendar_webhook_url="https://hooks.example.test/calendar",
    drive_webhook_url="https://hooks.example.test/drive",
    device_stale_days=60,
    channel_renew_hours=12,
    reconcile_after_minutes=30,
)


@dataclass
class World:
    """Every fake, and the container that wires the real services over them."""

    journal: Journal = field(default_factory=Journal)

    def __post_init__(self) -> None:
        journal = self.journal
        self.auth = FakeAuthenticator(journal)
        self.links = MemoryLinks(journal)
        self.oauth = FakeOAuth(journal)
        self.channels = MemoryChannels(journal)
        self.sync = MemorySyncStore(journal)
        self.gmail = FakeMailbox(journal)
        self.drive = FakeChannelSource(SourceKind.DRIVE, journal)
        self.calendar_source = FakeChannelSource(SourceKind.CALENDAR, journal)
        self.publisher = RecordingPublisher(journal)
        self.calendar = MemoryCalendar(journal)
        self.devices = MemoryDevices(journal)
        self.preferences = MemoryPreferences(journal)
        self.claims = MemoryClaims(journal)
        self.fcm = FakeFcm(journal)
        self.own_changes = MemoryOwnChanges(journal, self.sync)
        self.work = RecordingQueue(journal, "maintenance-work")
        self.ticks = RecordingQueue(journal, "maintenance-ticks")
        self.container = self._compose()
        self.credentials: FakeCredentials = self.container.credentials  # type: ignore[assignment]

    def _compose(self) -> Container:
        stale_after = timedelta(days=SETTINGS.device_stale_days)
        made = Container(
            SETTINGS,
            # Real clients must never be reached from this tier.
            firestore=Unreachable("firestore"),
            google=Unreachable("google gateway"),
            vault=Unreachable("token vault"),
            authenticator=self.auth,
            user_records=self.links,
            channels=self.channels,
            sync_store=self.sync,
            feed_reader=self.sync,
            job_publisher=self.publisher,
            due_index=self.sync,
            work_queue=self.work,
            tick_queue=self.ticks,
            sources={
                SourceKind.GMAIL: self.gmail,
                SourceKind.DRIVE: self.drive,
                SourceKind.CALENDAR: self.calendar_source,
            },
            own_changes=self.own_changes,
            calendar=CalendarService(self.calendar, self.own_changes),
            devices=DevicesService(self.devices, stale_after),
            preferences=self.preferences,
            push=PushService(
                feed=self.sync,
                preferences=self.preferences,
                devices=self.devices,
                claims=self.claims,
                sender=self.fcm,
                stale_after=stale_after,
            ),
        )
        # Parts that need the container's own wiring (watch service, relink notifier).
        made.credentials = FakeCredentials(  # type: ignore[assignment]
            self.links, self.journal, lambda uid: made.relink.after_relink_required(uid)
        )
        made.linking = LinkingService(
            store=self.links,
            oauth=self.oauth,
            vault=FakeVault(),
            watches=made.watch_service,
            state_ttl=timedelta(seconds=SETTINGS.oauth_state_ttl_seconds),
        )
        return made

    def user(self, uid: str) -> dict[str, str]:
        """A new app user; returns the Authorization header of their ID token."""
        return {"Authorization": f"Bearer {self.auth.add(uid)}"}

    def linked_user(self, uid: str, features: Iterable[Feature] = tuple(Feature)) -> dict[str, str]:
        """A user whose Google account is linked with ``features`` and whose watches run;
        the journal is cleared afterwards. Returns the Authorization header."""
        headers = self.user(uid)
        self.links.link(uid, f"sub-{uid}", features)
        self.gmail.addresses[uid] = f"{uid}@gmail.example.test"
        failed = self.container.watch_service.start_all(uid, list(features))
        assert failed == []
        self.journal.clear()
        return headers

    def assert_untouched(self) -> None:
        """Nothing was written to any store and no Google port (or FCM) was called."""
        assert self.journal.writes == []
        assert self.journal.google == []

    def function(self, name: str) -> FlaskClient:
        """A test client of the deployed function ``name``, loaded from its source file."""
        return load(name, ROOT / "functions" / f"{name}.py")


def load(target: str, source: Path) -> FlaskClient:
    """``create_app`` runs the source file as a fresh module, so it picks up the installed
    container; the module and its ``sys.path`` entry are removed again afterwards."""
    path_before = list(sys.path)
    try:
        app = create_app(target=target, source=str(source), signature_type=SIGNATURES[target])
    finally:
        sys.path[:] = path_before
        sys.modules.pop(source.stem, None)
        # create_app leaves its app's errorhandler as the module-level one; a module imported
        # later in this process (another test) must not register on an app already serving.
        functions_framework.errorhandler = functions_framework.DummyErrorHandler()
    return app.test_client()


@pytest.fixture
def world() -> Iterator[World]:
    """Fakes installed as the instance's container for one test."""
    made = World()
    bootstrap.install(made.container)
    try:
        yield made
    finally:
        bootstrap.install(None)


# CloudEvents as Eventarc delivers Pub/Sub messages
# (https://cloud.google.com/eventarc/docs/cloudevents#pubsub)

PUBSUB_TYPE = "google.cloud.pubsub.topic.v1.messagePublished"

Mode = Literal["binary", "structured", "raw"]


def pubsub_envelope(data: bytes, topic: str = "t") -> dict[str, Any]:
    """The body of a Pub/Sub push: the message with base64 data, and the subscription."""
    return {
        "message": {
            "data": base64.b64encode(data).decode(),
            "messageId": uuid.uuid4().hex[:12],
            "publishTime": "2025-01-01T00:00:00.000Z",
        },
        "subscription": f"projects/{SETTINGS.google_cloud_project}/subscriptions/{topic}-sub",
    }


def post_event(
    client: FlaskClient, envelope: Any, *, mode: Mode = "binary", topic: str = "t"
) -> TestResponse:
    """Deliver ``envelope`` as Eventarc does (a CloudEvent in binary or structured mode) or
    as a raw Pub/Sub push subscription does."""
    if mode == "raw":
        return client.post("/", json=envelope)
    project = SETTINGS.google_cloud_project
    event = CloudEvent(
        {
            "type": PUBSUB_TYPE,
            "source": f"//pubsub.googleapis.com/projects/{project}/topics/{topic}",
            "id": uuid.uuid4().hex,
            "specversion": "1.0",
            "datacontenttype": "application/json",
        },
        envelope,
    )
    headers, body = to_binary(event) if mode == "binary" else to_structured(event)
    return client.post("/", headers=dict(headers), data=body)


def publish(client: FlaskClient, message: Any, *, mode: Mode = "binary") -> TestResponse:
    """Deliver a Pub/Sub message whose data is ``message`` as JSON."""
    return post_event(client, pubsub_envelope(json.dumps(message).encode()), mode=mode)


def error_of(response: TestResponse) -> dict[str, Any]:
    """The ``error`` object of a JSON error answer."""
    assert response.mimetype == "application/json", response.data[:200]
    body: dict[str, Any] = response.get_json()
    return dict(body["error"])
