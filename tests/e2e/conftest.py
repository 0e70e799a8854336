"""The local stack, started once per test run by the same orchestrator as ``make run``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pytest
from google.cloud.firestore import Client as FirestoreClient

from devstack.stack import Stack, StackUrls
from tests.support.clients import AuthEmulator, FakeGoogle, FirestoreEmulator, SeenSecrets

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
        self.firestore.reset()
        self.auth.reset()
        self.google.reset()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    workdir = tmp_path_factory.mktemp("stack")
    local = Stack(workdir, project_id=PROJECT_ID)
    urls = local.start()
    seen = SeenSecrets()
    try:
        yield RunningStack(
            urls=urls,
            workdir=workdir,
            auth=AuthEmulator(urls.auth, PROJECT_ID, seen),
            firestore=FirestoreEmulator(urls.firestore, PROJECT_ID),
            google=FakeGoogle(urls.fake_google),
            seen=seen,
        )
    finally:
        local.stop()


@pytest.fixture(autouse=True)
def clean_state(request: pytest.FixtureRequest) -> None:
    """Each end-to-end test starts from empty emulators and a reset fake Google."""
    if request.node.get_closest_marker("last") is None:
        request.getfixturevalue("stack").reset()
