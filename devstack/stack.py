"""Start and stop the whole local stack: emulators, fake Google and every function."""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from devstack.processes import ManagedProcess, free_port, wait_all_ready
from devstack.service_account import register_with_fake, write_key_file
from devstack.topology import FUNCTIONS, TOPICS, FunctionSpec

REPO_ROOT = Path(__file__).resolve().parent.parent
OAUTH_CLIENT_ID = "local-client.apps.googleusercontent.com"
OAUTH_CLIENT_SECRET = "local-client-secret"  # the fake's own client, not a real secret


def gcloud_sdk_root() -> Path:
    """The Google Cloud SDK installation that ships the official emulators."""
    configured = os.environ.get("CLOUDSDK_ROOT")
    if configured:
        return Path(configured)
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise RuntimeError("gcloud is not on PATH; install the Google Cloud SDK")
    result = subprocess.run(
        [gcloud, "info", "--format=value(installation.sdk_root)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(result.stdout.strip())


@dataclass
class StackUrls:
    """Where each part of a running stack listens."""

    project_id: str
    firestore: str
    pubsub: str
    auth: str
    fake_google: str
    functions: dict[str, str] = field(default_factory=dict)
    vault_keys: str = ""
    credentials_file: str = ""

    @property
    def oauth_redirect_uri(self) -> str:
        """The OAuth callback function's URL, registered with the fake Google."""
        return f"{self.functions['oauth_callback']}/"

    @property
    def app_deep_link(self) -> str:
        """Where the callback page sends the browser; served by the fake Google locally."""
        return f"{self.fake_google}/_control/app-link"

    def function_env(self) -> dict[str, str]:
        """The environment every function process gets (the settings of a local deploy)."""
        return {
            "GOOGLE_OAUTH_CLIENT_ID": OAUTH_CLIENT_ID,
            "GOOGLE_OAUTH_CLIENT_SECRET": OAUTH_CLIENT_SECRET,
            "GOOGLE_OAUTH_REDIRECT_URI": self.oauth_redirect_uri,
            "APP_DEEP_LINK": self.app_deep_link,
            "TOKEN_ENCRYPTION_KEYS": self.vault_keys,
            "TOKEN_ENCRYPTION_KEY_ID": "local-1",
            "CALENDAR_WEBHOOK_URL": f"{self.functions['calendar_webhook']}/",
            "DRIVE_WEBHOOK_URL": f"{self.functions['drive_webhook']}/",
            # Locally the OAuth endpoints are plain http on loopback.
            "OAUTHLIB_INSECURE_TRANSPORT": "1",
            "GOOGLE_CLOUD_PROJECT": self.project_id,
            "FIRESTORE_EMULATOR_HOST": self.firestore,
            "PUBSUB_EMULATOR_HOST": self.pubsub,
            "FIREBASE_AUTH_EMULATOR_HOST": self.auth,
            "GOOGLE_API_BASE_URL": self.fake_google,
            "GOOGLE_OAUTH_BASE_URL": self.fake_google,
            # Application Default Credentials (firebase-admin's FCM sends) and FCM's endpoint.
            "GOOGLE_APPLICATION_CREDENTIALS": self.credentials_file,
            "FCM_BASE_URL": self.fake_google,
            # Short, so tests of Google timeouts and their retries stay quick.
            "GOOGLE_API_TIMEOUT_SECONDS": "2",
            # An unanswered FCM send is never resent: long enough for a loaded machine.
            "FCM_TIMEOUT_SECONDS": "6",
            "PYTHONUNBUFFERED": "1",
        }

    def as_dict(self) -> dict[str, object]:
        """A JSON-friendly view (written to ``stack.json`` for other tools)."""
        return {
            "project_id": self.project_id,
            "firestore": self.firestore,
            "pubsub": self.pubsub,
            "auth": self.auth,
            "fake_google": self.fake_google,
            "functions": dict(self.functions),
        }


class Stack:
    """The local stack. ``start()`` brings everything up; ``stop()`` ends what it started."""

    def __init__(self, workdir: Path, project_id: str = "demo-uplus") -> None:
        self.workdir = workdir
        self.project_id = project_id
        self.processes: list[ManagedProcess] = []
        self.urls: StackUrls | None = None

    def start(self, timeout: float = 120.0) -> StackUrls:
        """Start every component (reusing emulators named in the environment) and wait."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        logs = self.workdir / "logs"
        try:
            firestore = os.environ.get("FIRESTORE_EMULATOR_HOST") or self._firestore(logs)
            pubsub = os.environ.get("PUBSUB_EMULATOR_HOST") or self._pubsub(logs)
            auth = os.environ.get("FIREBASE_AUTH_EMULATOR_HOST") or self._auth(logs)
            fake_google = f"http://127.0.0.1:{free_port()}"
            urls = StackUrls(self.project_id, firestore, pubsub, auth, fake_google)
            urls.vault_keys = json.dumps(
                {"local-1": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}
            )
            urls.functions = {spec.target: f"http://127.0.0.1:{free_port()}" for spec in FUNCTIONS}
            key_path = self.workdir / "service-account.json"
            key = write_key_file(key_path, self.project_id, fake_google)
            urls.credentials_file = str(key_path)
            self._fake_google(logs, urls)
            for spec in FUNCTIONS:
                self._function(spec, urls, logs)
            wait_all_ready(self.processes, timeout)
            register_with_fake(key, fake_google)
            self._create_topics(urls)
        except BaseException:
            self.stop()
            raise
        self.urls = urls
        (self.workdir / "stack.json").write_text(json.dumps(urls.as_dict(), indent=2))
        return urls

    def component(self, name: str) -> ManagedProcess:
        """One started process by name, e.g. to stop and start the Firestore emulator in
        fault tests (``stop()``, ``start()``, ``wait_all_ready``: same port, data lost)."""
        return next(process for process in self.processes if process.name == name)

    def stop(self) -> None:
        """Stop every process this stack started, newest first."""
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()

    def _spawn(self, process: ManagedProcess) -> ManagedProcess:
        self.processes.append(process)
        process.start()
        return process

    def _firestore(self, logs: Path) -> str:
        port = free_port()
        script = gcloud_sdk_root() / "platform/cloud-firestore-emulator/cloud_firestore_emulator"
        self._spawn(
            ManagedProcess(
                name="firestore-emulator",
                argv=[str(script), "start", "--host=127.0.0.1", f"--port={port}"],
                log_path=logs / "firestore-emulator.log",
                ready_url=f"http://127.0.0.1:{port}/",
                ready_check=_answers_ok,
            )
        )
        return f"127.0.0.1:{port}"

    def _pubsub(self, logs: Path) -> str:
        port = free_port()
        script = gcloud_sdk_root() / "platform/pubsub-emulator/bin/cloud-pubsub-emulator"
        self._spawn(
            ManagedProcess(
                name="pubsub-emulator",
                argv=[str(script), "--host=127.0.0.1", f"--port={port}"],
                log_path=logs / "pubsub-emulator.log",
                ready_url=f"http://127.0.0.1:{port}/",
                ready_check=_answers_ok,
            )
        )
        return f"127.0.0.1:{port}"

    def _auth(self, logs: Path) -> str:
        port, hub, logging_port = free_port(), free_port(), free_port()
        config = {
            "emulators": {
                "auth": {"host": "127.0.0.1", "port": port},
                "hub": {"host": "127.0.0.1", "port": hub},
                "logging": {"host": "127.0.0.1", "port": logging_port},
                "ui": {"enabled": False},
                "singleProjectMode": True,
            }
        }
        config_dir = self.workdir / "firebase"
        config_dir.mkdir(parents=True, exist_ok=True)
        (config_dir / "firebase.json").write_text(json.dumps(config))
        firebase = REPO_ROOT / "node_modules/.bin/firebase"
        if not firebase.exists():
            raise RuntimeError("firebase-tools is not installed; run `npm ci` (make setup)")
        self._spawn(
            ManagedProcess(
                name="auth-emulator",
                argv=[
                    str(firebase),
                    "emulators:start",
                    "--only",
                    "auth",
                    "--project",
                    self.project_id,
                ],
                log_path=logs / "auth-emulator.log",
                ready_url=f"http://127.0.0.1:{port}/",
                ready_check=_is_auth_emulator,
                cwd=config_dir,
                env={"CI": "true"},  # no update checks or prompts
            )
        )
        return f"127.0.0.1:{port}"

    def _fake_google(self, logs: Path, urls: StackUrls) -> None:
        base = urls.fake_google
        port = base.rsplit(":", 1)[1]
        self._spawn(
            ManagedProcess(
                name="fake-google",
                argv=[
                    sys.executable,
                    "-m",
                    "devstack.fake_google",
                    "--host=127.0.0.1",
                    f"--port={port}",
                    f"--client-id={OAUTH_CLIENT_ID}",
                    f"--client-secret={OAUTH_CLIENT_SECRET}",
                    f"--redirect-uri={urls.oauth_redirect_uri}",
                ],
                log_path=logs / "fake-google.log",
                ready_url=f"{base}/_control/health",
                cwd=REPO_ROOT,
                # Gmail watches publish to the Pub/Sub emulator, as Google publishes to Pub/Sub.
                env={
                    "PYTHONUNBUFFERED": "1",
                    "PUBSUB_EMULATOR_HOST": urls.pubsub,
                    "GOOGLE_CLOUD_PROJECT": urls.project_id,
                },
                ready_check=lambda response: response.status_code == 200,
            )
        )

    def _function(self, spec: FunctionSpec, urls: StackUrls, logs: Path) -> ManagedProcess:
        base = urls.functions[spec.target]
        port = base.rsplit(":", 1)[1]
        return self._spawn(
            ManagedProcess(
                name=spec.target,
                argv=[
                    sys.executable,
                    "-m",
                    "functions_framework",
                    "--source=main.py",
                    f"--target={spec.target}",
                    f"--signature-type={spec.signature}",
                    "--host=127.0.0.1",
                    f"--port={port}",
                ],
                log_path=logs / f"{spec.target}.log",
                ready_url=f"{base}/",
                cwd=REPO_ROOT,
                env=urls.function_env(),
            )
        )

    def _create_topics(self, urls: StackUrls) -> None:
        """Topics and push subscriptions that deliver to the local functions like Eventarc."""
        api = f"http://{urls.pubsub}/v1/projects/{urls.project_id}"
        for topic in TOPICS:
            _put_until_created(f"{api}/topics/{topic}", {})
        for spec in FUNCTIONS:
            if spec.topic is None:
                continue
            topic_path = f"projects/{urls.project_id}/topics/{spec.topic}"
            # functions-framework reads the topic from the push URL's path.
            push_endpoint = f"{urls.functions[spec.target]}/{topic_path}"
            _put_until_created(
                f"{api}/subscriptions/{spec.target}-push",
                {
                    "topic": topic_path,
                    "pushConfig": {"pushEndpoint": push_endpoint},
                    "ackDeadlineSeconds": 30,
                },
            )


def _answers_ok(response: requests.Response) -> bool:
    """The Firestore and Pub/Sub emulators answer ``GET /`` with ``Ok``; checking the body,
    not only the status, means a stranger on the port is never taken for the emulator."""
    return response.status_code == 200 and response.text.strip() == "Ok"


def _is_auth_emulator(response: requests.Response) -> bool:
    """The Auth emulator answers ``GET /`` with ``{"authEmulator": {"ready": true, ...}}``."""
    try:
        body = response.json()
    except ValueError:
        return False
    emulator = body.get("authEmulator") if isinstance(body, dict) else None
    return isinstance(emulator, dict) and emulator.get("ready") is True


def _put_until_created(url: str, body: dict[str, object], attempts: int = 5) -> None:
    """PUT a Pub/Sub resource; a loaded emulator may answer late or not yet know a topic."""
    status = 0
    for attempt in range(attempts):
        try:
            status = requests.put(url, json=body, timeout=30).status_code
        except requests.RequestException:
            status = 0
        if status in (200, 409):
            return
        time.sleep(0.5 * (attempt + 1))
    raise RuntimeError(f"creating {url.rsplit('/', 2)[-2]} failed: {status}")


def wait_forever() -> None:
    """Block until interrupted."""
    while True:
        time.sleep(3600)
