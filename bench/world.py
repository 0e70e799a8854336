"""The running stack as the benchmarks see it: linked users with a phone each, the fake's
call log and FCM messages, and the functions' logs."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.drivers.clients import AuthEmulator, AuthUser, FakeGoogle, SeenSecrets
from devstack.drivers.linking import link_via_consent
from devstack.drivers.pubsub import PubSub
from devstack.drivers.push import FakeFcm, device_body, new_token, put_device
from devstack.stack import StackUrls


@dataclass
class BenchUser:
    """An app user with a linked Google account and one registered phone."""

    auth: AuthUser
    google: dict[str, Any]
    token: str

    @property
    def sub(self) -> str:
        return str(self.google["sub"])


class World:
    """Clients of one running stack."""

    def __init__(self, urls: StackUrls, workdir: Path) -> None:
        self.urls = urls
        self.workdir = workdir
        self.seen = SeenSecrets()
        self.auth = AuthEmulator(urls.auth, urls.project_id, self.seen)
        self.google = FakeGoogle(urls.fake_google)
        self.fcm = FakeFcm(urls.fake_google)

    @property
    def account_api(self) -> str:
        return self.urls.functions["account_api"]

    def linked_user(self) -> BenchUser:
        """A new app user, linked to a new Google user with every scope, with a phone."""
        google_user = self.google.create_user(f"bench-{secrets.token_hex(5)}@gmail.example")
        user = self.auth.create_user()
        done = link_via_consent(self.account_api, self.urls.fake_google, user, google_user["sub"])
        if done.status_code != 200:
            raise RuntimeError("linking failed")
        token = new_token(self.seen)
        response = put_device(self.account_api, user, "phone-0001", device_body(token))
        response.raise_for_status()
        return BenchUser(user, google_user, token)

    def settle(self, quiet: float = 1.0, timeout: float = 60.0) -> None:
        """Wait until the fake sees no new call for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        seen = -1
        while time.monotonic() < deadline:
            count = len(self.google.calls())
            if count == seen:
                return
            seen = count
            time.sleep(quiet)

    def log_count(self, function: str, message: str) -> int:
        """How many log lines of a function carry ``message``."""
        path = self.workdir / "logs" / f"{function}.log"
        return sum(1 for line in path.read_text().splitlines() if f'"{message}"' in line)

    def method_calls(self, method: str) -> int:
        """Calls of one Google method in the fake's log."""
        return len(self.google.calls(method=method))

    def fcm_messages(self, token: str) -> list[dict[str, Any]]:
        """FCM messages the fake accepted for one token."""
        return self.fcm.messages(token)

    def reconcile(self) -> None:
        """Publish the scheduler's tick: sources a failed pass left dirty are due at once."""
        PubSub(self.urls.pubsub, self.urls.project_id).publish_json(
            "maintenance-ticks", {"task": "tick"}
        )


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll until ``check`` holds; False when time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()
