"""The local stack, started once per test run by the same orchestrator as ``make run``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from google.cloud.firestore import Client as FirestoreClient

from devstack.drivers.clients import (
    AuthEmulator,
    AuthUser,
    FakeGoogle,
    FirestoreEmulator,
    SeenSecrets,
)
from devstack.drivers.linking import link_via_consent
from devstack.drivers.pubsub import Observer, PubSub
from devstack.stack import Stack, StackUrls

PROJECT_ID = "demo-uplus-test"


@dataclass
class RunningStack:
    """A started stack with clients for its parts."""

    urls: StackUrls
    workdir: Path
    auth: AuthEmulator
    firestore: FirestoreEmulator
    google: FakeGoogle
    seen: SeenSecrets
    pubsub: PubSub
    push_jobs: Observer
    local: Stack  # the orchestrator, for tests that stop and start one component

    @cached_property
    def db(self) -> FirestoreClient:
        """A client of the stack's Firestore emulator, for reading raw documents."""
        os.environ["FIRESTORE_EMULATOR_HOST"] = self.urls.firestore
        return FirestoreClient(project=self.urls.project_id)

    def function_url(self, target: str) -> str:
        """Base URL of one running function."""
        return self.urls.functions[target]

    def reset(self) -> None:
        """Return every component to a clean state."""
        self.google.reset()
        self.firestore.reset()
        self.auth.reset()
        self.push_jobs.drain()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    workdir = tmp_path_factory.mktemp("stack")
    local = Stack(workdir, project_id=PROJECT_ID)
    urls = local.start()
    seen = SeenSecrets()
    pubsub = PubSub(urls.pubsub, PROJECT_ID)
    try:
        yield RunningStack(
            pubsub=pubsub,
            push_jobs=pubsub.observe("push-jobs", "test-observer"),
            urls=urls,
            workdir=workdir,
            auth=AuthEmulator(urls.auth, PROJECT_ID, seen),
            firestore=FirestoreEmulator(urls.firestore, PROJECT_ID),
            google=FakeGoogle(urls.fake_google),
            seen=seen,
            local=local,
        )
    finally:
        local.stop()


@pytest.fixture(autouse=True)
def clean_state(request: pytest.FixtureRequest) -> None:
    """Each end-to-end test starts from empty emulators and a reset fake Google."""
    if request.node.get_closest_marker("last") is None:
        request.getfixturevalue("stack").reset()


@dataclass
class LinkedUser:
    """An app user whose Google account is linked with every scope (watches started)."""

    auth: AuthUser
    google: dict[str, Any]

    @property
    def uid(self) -> str:
        return self.auth.uid

    @property
    def email(self) -> str:
        return str(self.google["email"])


def link_user(stack: RunningStack, email: str, scopes: list[str] | None = None) -> LinkedUser:
    """Create an app user and a Google user, and link them through the consent flow."""
    stack.seen.add(email)
    google_user = stack.google.create_user(email)
    user = stack.auth.create_user()
    done = link_via_consent(
        stack.function_url("account_api"), stack.urls.fake_google, user, google_user["sub"], scopes
    )
    assert done.status_code == 200 and done.json()["status"] == "linked", done.text
    return LinkedUser(user, google_user)


@pytest.fixture
def linked(stack: RunningStack) -> LinkedUser:
    return link_user(stack, "han.jiwoo@gmail.example")
