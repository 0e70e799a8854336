"""``python -m devstack.demo`` (``make demo``): a guided tour of the whole backend.

Starts the same local stack as ``make run`` (or attaches to a running one with
``--attach .devstack/stack.json``), then, as the mobile app and Google would: creates a
user, registers a phone, links Google through the fake consent page, creates, edits and
deletes a calendar event through ``calendar_api``, delivers a mail, creates and changes a
Drive file, and prints each step and every push the fake FCM received as a timeline.
Everything it started is stopped at the end, also on Ctrl-C or failure.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import requests

from devstack.stack import REPO_ROOT, Stack

T = TypeVar("T")
EVENT_START, EVENT_END = "2030-03-14T10:00:00+09:00", "2030-03-14T11:00:00+09:00"


class Timeline:
    """Prints numbered steps with the time since the demo began."""

    def __init__(self) -> None:
        self.began = time.monotonic()
        self.step = 0

    def stamp(self) -> str:
        return f"{time.monotonic() - self.began:6.1f}s"

    def begin(self, title: str) -> None:
        """A new step."""
        self.step += 1
        print(f"\n[{self.stamp()}] {self.step}. {title}", flush=True)

    def show(self, text: str) -> None:
        """One result line of the current step."""
        print(f"           {text}", flush=True)


@contextmanager
def spinner(message: str) -> Iterator[None]:
    """A progress indicator on the terminal while a slow step runs."""
    done = threading.Event()
    began = time.monotonic()

    def spin() -> None:
        if not sys.stdout.isatty():
            print(f"  {message}...", flush=True)
            return
        for frame in itertools.cycle("|/-\\"):
            if done.wait(0.2):
                return
            print(f"\r{frame} {message} {time.monotonic() - began:4.0f}s", end="", flush=True)

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        print(f"\r  {message} done in {time.monotonic() - began:.0f}s", flush=True)


def eventually(check: Callable[[], T], timeout: float = 30.0) -> T:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


class Demo:
    """The app, the browser and Google, driven over HTTP against a running stack."""

    def __init__(self, urls: dict[str, Any], timeline: Timeline) -> None:
        self.urls = urls
        self.google = str(urls["fake_google"])
        self.account = str(urls["functions"]["account_api"])
        self.calendar = urls["functions"].get("calendar_api")
        self.timeline = timeline
        self.id_token = ""
        self.sub = ""
        self.fcm_token = f"{secrets.token_urlsafe(16)}:APA91b{secrets.token_urlsafe(100)}"

    def app(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """A request of the mobile app, with the user's Firebase ID token."""
        headers = {"Authorization": f"Bearer {self.id_token}", **kwargs.pop("headers", {})}
        return requests.request(method, url, headers=headers, timeout=30, **kwargs)

    def run(self) -> None:
        """Every step, in order."""
        for step in (
            self.create_user,
            self.register_phone,
            self.link_google,
            self.calendar_event,
            self.mail,
            self.drive_file,
            self.pushes,
        ):
            step()

    def create_user(self) -> None:
        self.timeline.begin("Create an app user (Firebase Auth emulator)")
        email = f"demo-{secrets.token_hex(3)}@example.com"
        response = requests.post(
            f"http://{self.urls['auth']}/identitytoolkit.googleapis.com/v1/accounts:signUp",
            params={"key": "local"},
            json={"email": email, "password": secrets.token_hex(8), "returnSecureToken": True},
            timeout=10,
        )
        response.raise_for_status()
        self.id_token = response.json()["idToken"]
        me = self.app("GET", f"{self.account}/v1/me")
        self.timeline.show(f"GET /v1/me -> {me.status_code} uid={me.json().get('uid')}")

    def register_phone(self) -> None:
        self.timeline.begin("Register the user's phone for pushes")
        body = {
            "fcm_token": self.fcm_token,
            "platform": "android",
            "os_version": "14",
            "app_version": "2.3.0",
            "model": "Pixel 8",
            "locale": "en-US",
        }
        response = self.app("PUT", f"{self.account}/v1/devices/demo-phone-01", json=body)
        self.timeline.show(f"PUT /v1/devices/demo-phone-01 -> {response.status_code}")

    def link_google(self) -> None:
        self.timeline.begin("Link Google through the consent page (fake Google)")
        google_user = requests.post(
            f"{self.google}/_control/users",
            json={"email": f"demo-{secrets.token_hex(3)}@gmail.example", "name": "Demo User"},
            timeout=10,
        ).json()
        self.sub = google_user["sub"]
        link = self.app("POST", f"{self.account}/v1/google/link")
        consent = link.json()["authorization_url"]
        self.timeline.show(f"POST /v1/google/link -> {link.status_code}, consent page URL")
        query = urlsplit(consent).query
        scopes = parse_qs(query)["scope"][0].split()
        approved = requests.post(
            f"{self.google}/o/oauth2/v2/auth/approve",
            data={"auth_request": query, "user": self.sub, "scope": scopes, "action": "allow"},
            allow_redirects=False,
            timeout=10,
        )
        self.timeline.show(f"user ticks {len(scopes)} scopes and allows -> {approved.status_code}")
        page = requests.get(approved.headers["Location"], allow_redirects=False, timeout=30)
        found = re.search(r"completion_code=([A-Za-z0-9_-]+)", page.text)
        result = "approved" if found else "failed"
        self.timeline.show(f"browser follows the redirect to oauth_callback -> {result}")
        # The deep link hands the app a one-time code; only the app that started completes.
        code = found.group(1) if found else ""
        done = self.app(
            "POST", f"{self.account}/v1/google/link/complete", json={"completion_code": code}
        )
        self.timeline.show(f"app: POST /v1/google/link/complete -> {done.status_code}")
        status = self.app("GET", f"{self.account}/v1/google").json()
        self.timeline.show(
            f"GET /v1/google -> status={status.get('status')} features={status.get('features')}"
        )
        self.timeline.show("watches started: Gmail (Pub/Sub), Drive and Calendar channels")

    def calendar_event(self) -> None:
        self.timeline.begin("Create, edit and delete a calendar event (calendar_api)")
        if not self.calendar:
            self.timeline.show("SKIPPED: calendar_api is not part of this stack")
            return
        events = f"{self.calendar}/v1/calendars/primary/events"
        body = {
            "summary": "Demo planning",
            "start": {"date_time": EVENT_START},
            "end": {"date_time": EVENT_END},
        }
        created = self.app("POST", events, json=body)
        event = created.json()
        self.timeline.show(f"POST   -> {created.status_code} id={event.get('id')}")
        self.wait_feed("calendar", count=1)
        edited = self.app(
            "PATCH",
            f"{events}/{event['id']}",
            json={"summary": "Demo planning (moved room)"},
            headers={"If-Match": created.headers.get("ETag", "")},
        )
        summary = edited.json().get("summary")
        self.timeline.show(f"PATCH  -> {edited.status_code} summary={summary!r}")
        self.wait_feed("calendar", count=2)
        deleted = self.app(
            "DELETE",
            f"{events}/{event['id']}",
            headers={"If-Match": edited.headers.get("ETag", "")},
        )
        self.timeline.show(f"DELETE -> {deleted.status_code}")
        self.wait_feed("calendar", count=3)

    def mail(self) -> None:
        self.timeline.begin("A mail arrives at the fake Gmail")
        requests.post(
            f"{self.google}/_control/gmail/deliver",
            json={"sub": self.sub, "from": "Lee Boss <boss@corp.example>", "subject": "Q3 plan"},
            timeout=10,
        ).raise_for_status()
        self.timeline.show("Gmail -> Pub/Sub -> gmail_receiver -> feed + push job")
        self.wait_feed("mail", count=1)

    def drive_file(self) -> None:
        self.timeline.begin("A Drive file is created, then changed")
        files = f"{self.google}/_control/drive/files"
        created = requests.post(files, json={"sub": self.sub, "name": "Budget.xlsx"}, timeout=10)
        created.raise_for_status()
        self.timeline.show(f"created  {created.json()['file_id']}")
        self.wait_feed("drive", count=1)
        requests.patch(
            f"{files}/{created.json()['file_id']}",
            json={"name": "Budget v2.xlsx", "actor": "Kim Team"},
            timeout=10,
        ).raise_for_status()
        self.timeline.show("renamed by Kim Team")
        self.wait_feed("drive", count=2)

    def wait_feed(self, category: str, count: int) -> None:
        """Wait until the feed holds ``count`` items of a category; show the newest."""

        def items() -> list[dict[str, Any]]:
            response = self.app("GET", f"{self.account}/v1/activity", params={"category": category})
            found = list(response.json().get("items", []))
            return found if len(found) >= count else []

        found = eventually(items)
        if not found:
            self.timeline.show(f"[{self.timeline.stamp()}] feed: nothing new after 30 s")
            return
        newest = found[0]
        title = newest.get("title") or ""
        mine = " (by you: no notification)" if newest.get("by_me") else ""
        self.timeline.show(f"[{self.timeline.stamp()}] feed: {newest['kind']:<17} {title}{mine}")

    def pushes(self) -> None:
        self.timeline.begin("Pushes that reached the phone (fake FCM)")
        expected = len(self.app("GET", f"{self.account}/v1/activity").json().get("items", []))

        def messages() -> list[dict[str, Any]]:
            response = requests.get(
                f"{self.google}/_control/fcm/messages", params={"token": self.fcm_token}, timeout=10
            )
            found = list(response.json()["messages"])
            return found if len(found) >= expected else []

        sent = (
            eventually(messages)
            or requests.get(
                f"{self.google}/_control/fcm/messages", params={"token": self.fcm_token}, timeout=10
            ).json()["messages"]
        )
        for message in sent:
            body = message["message"]
            note = body.get("notification") or {}
            kind = body.get("data", {}).get("kind", "?")
            text = (
                f"{note.get('title', '')}: {note.get('body', '')}"
                if note
                else "(data-only push: the app refreshes silently)"
            )
            self.timeline.show(f"push: {kind:<17} {text}")
        self.timeline.show(f"{len(sent)} pushes for {expected} feed items")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m devstack.demo")
    parser.add_argument(
        "--attach",
        type=Path,
        help="use a running `make run` stack (its stack.json) instead of starting one",
    )
    parser.add_argument("--workdir", type=Path, default=REPO_ROOT / ".devstack" / "demo")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    print("U+ Groupware Google backend: the demo\n", flush=True)
    stack: Stack | None = None
    try:
        if args.attach:
            urls = json.loads(args.attach.read_text())
            print(f"attached to the stack of {args.attach}", flush=True)
        else:
            for name in ("FIRESTORE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST"):
                os.environ.pop(name, None)
            os.environ.pop("FIREBASE_AUTH_EMULATOR_HOST", None)
            stack = Stack(args.workdir, project_id="demo-uplus")
            with spinner("starting the local stack (emulators, fake Google, 8 functions)"):
                urls = stack.start().as_dict()
        Demo(urls, Timeline()).run()
        print("\nThe demo is done.", flush=True)
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted", flush=True)
        return 130
    finally:
        if stack is not None:
            with spinner("stopping everything the demo started"):
                stack.stop()
            print(f"logs of every process: {args.workdir / 'logs'}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
