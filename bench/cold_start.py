"""Cold start: process start → first real response, per function, next to a bare
functions-framework hello world started the same way; and what each function imports."""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bench.stats import median
from bench.world import BenchUser, World
from devstack.processes import free_port
from devstack.stack import REPO_ROOT
from devstack.topology import FUNCTIONS, FunctionSpec

HELLO = "hello"
# Libraries worth knowing about when a function loads them at import time.
WATCHED_LIBRARIES = (
    "firebase_admin",
    "googleapiclient",
    "google.cloud.firestore_v1",
    "google.cloud.pubsub_v1",
    "grpc",
    "cryptography",
    "pydantic",
    "google_auth_oauthlib",
)


@dataclass(frozen=True)
class Probe:
    """The first real request of a function: what it does and when its answer counts."""

    description: str
    send: Callable[[str], requests.Response]
    accept: Callable[[int], bool]


def _cloud_event(base: str, topic: str, body: dict[str, Any]) -> requests.Response:
    data = base64.b64encode(json.dumps(body).encode()).decode()
    headers = {
        "ce-specversion": "1.0",
        "ce-id": secrets.token_hex(8),
        "ce-source": f"//pubsub.googleapis.com/projects/bench/topics/{topic}",
        "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
        "Content-Type": "application/json",
    }
    envelope = {"message": {"data": data, "messageId": "1"}, "subscription": "bench"}
    return requests.post(f"{base}/", json=envelope, headers=headers, timeout=30)


def _channel_headers() -> dict[str, str]:
    return {
        "X-Goog-Channel-ID": str(uuid.uuid4()),
        "X-Goog-Channel-Token": secrets.token_urlsafe(32),
        "X-Goog-Resource-ID": "bench-resource",
        "X-Goog-Resource-State": "exists",
        "X-Goog-Message-Number": "2",
    }


def probes(user: BenchUser) -> dict[str, Probe]:
    """One probe per function; each touches Firestore."""
    bearer = {"Authorization": f"Bearer {user.auth.id_token}"}
    job = {
        "job_id": "bench-job",
        "uid": user.auth.uid,
        "item_id": "bench-missing-item",
        "kind": "mail.received",
        "created_at": "2030-01-01T00:00:00Z",
    }
    ok = lambda status: status < 300  # noqa: E731
    return {
        "account_api": Probe(
            "GET /v1/me as a linked user (verifies the ID token, reads the user)",
            lambda base: requests.get(f"{base}/v1/me", headers=bearer, timeout=30),
            ok,
        ),
        "calendar_api": Probe(
            "GET /v1/calendars as a linked user (reads the sealed tokens, calls Google)",
            lambda base: requests.get(f"{base}/v1/calendars", headers=bearer, timeout=30),
            ok,
        ),
        "oauth_callback": Probe(
            "GET /?state=<unknown>&code=x (looks the state up, renders the error page)",
            lambda base: requests.get(
                f"{base}/",
                params={"state": secrets.token_urlsafe(32), "code": "x"},
                timeout=30,
                allow_redirects=False,
            ),
            lambda status: status < 500,
        ),
        "calendar_webhook": Probe(
            "POST / with an unknown channel (reads the channel, rejects with 401)",
            lambda base: requests.post(f"{base}/", headers=_channel_headers(), timeout=30),
            lambda status: status == 401,
        ),
        "drive_webhook": Probe(
            "POST / with an unknown channel (reads the channel, rejects with 401)",
            lambda base: requests.post(f"{base}/", headers=_channel_headers(), timeout=30),
            lambda status: status == 401,
        ),
        "gmail_receiver": Probe(
            "CloudEvent for an unknown address (reads the address route, acknowledges)",
            lambda base: _cloud_event(
                base,
                "gmail-notifications",
                {"emailAddress": "nobody@gmail.example", "historyId": "7"},
            ),
            ok,
        ),
        "watch_maintenance": Probe(
            "CloudEvent {task: tick} (queries the due index across users)",
            lambda base: _cloud_event(base, "maintenance-ticks", {"task": "tick"}),
            ok,
        ),
        "maintenance_worker": Probe(
            "CloudEvent {task: work} of a source not claimed (reads its cursor, skips)",
            lambda base: _cloud_event(
                base,
                "maintenance-work",
                {"task": "work", "cycle": "probe", "sources": [["nobody", "gmail", ""]]},
            ),
            ok,
        ),
        "push_dispatch": Probe(
            "CloudEvent push job for a missing feed item (reads it, acknowledges)",
            lambda base: _cloud_event(base, "push-jobs", job),
            ok,
        ),
        HELLO: Probe(
            "GET / of a bare hello world", lambda base: requests.get(base, timeout=30), ok
        ),
    }


def _argv(target: str, signature: str, port: int) -> tuple[list[str], Path]:
    source, cwd = ("main.py", REPO_ROOT)
    if target == HELLO:
        source, cwd = ("main.py", REPO_ROOT / "bench" / "hello")
    argv = [
        sys.executable,
        "-m",
        "functions_framework",
        f"--source={source}",
        f"--target={target}",
        f"--signature-type={signature}",
        "--host=127.0.0.1",
        f"--port={port}",
    ]
    return argv, cwd


def start_to_first_answer(
    target: str, signature: str, probe: Probe, env: dict[str, str], log: Path
) -> float:
    """Seconds from spawning the process to the probe's first accepted answer."""
    port = free_port()
    argv, cwd = _argv(target, signature, port)
    base = f"http://127.0.0.1:{port}"
    with log.open("ab") as output:
        began = time.monotonic()
        process = subprocess.Popen(
            argv,
            env={**os.environ, **env},
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"{target} exited with {process.returncode}")
                if time.monotonic() - began > 60:
                    raise RuntimeError(f"{target} gave no accepted answer within 60 s")
                try:
                    response = probe.send(base)
                except requests.ConnectionError:
                    time.sleep(0.01)
                    continue
                if probe.accept(response.status_code):
                    return time.monotonic() - began
                raise RuntimeError(f"{target} answered {response.status_code}: {response.text}")
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def measure(world: World, user: BenchUser, runs: int) -> dict[str, Any]:
    """Median cold start of every function and of the hello world, interleaved run by run."""
    env = world.urls.function_env()
    specs: list[FunctionSpec] = [*FUNCTIONS, FunctionSpec(HELLO, "http")]
    by_name = probes(user)
    samples: dict[str, list[float]] = {spec.target: [] for spec in specs}
    log = world.workdir / "logs" / "bench-cold-start.log"
    for _ in range(runs):
        for spec in specs:
            seconds = start_to_first_answer(
                spec.target, spec.signature, by_name[spec.target], env, log
            )
            samples[spec.target].append(seconds)
    hello = median(samples[HELLO])
    return {
        "runs": runs,
        "hello_seconds": hello,
        "functions": {
            spec.target: {
                "probe": by_name[spec.target].description,
                "median_seconds": median(samples[spec.target]),
                "samples": samples[spec.target],
                "ratio_to_hello": median(samples[spec.target]) / hello if hello else 0.0,
            }
            for spec in specs
            if spec.target != HELLO
        },
    }


_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")


def import_profile(target: str, env: dict[str, str], top: int = 6) -> dict[str, Any]:
    """``python -X importtime -c "import main; main.<target>"``: slowest modules, libraries."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import main; main.{target}"],
        env={**os.environ, **env},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    entries: list[tuple[int, int, str]] = []
    for line in result.stderr.splitlines():
        match = _LINE.match(line)
        if match:
            entries.append((len(match.group(3)) // 2, int(match.group(2)), match.group(4)))
    total = sum(cumulative for depth, cumulative, _ in entries if depth == 0)
    # Top level and the level below: who pulled what in.
    shallow = sorted((e for e in entries if e[0] <= 1), key=lambda e: -e[1])[:top]
    names = {name for _, _, name in entries}
    return {
        "total_ms": total / 1000,
        "modules": len(entries),
        "top": [{"module": name, "cumulative_ms": cum / 1000} for _, cum, name in shallow],
        "libraries": [
            lib
            for lib in WATCHED_LIBRARIES
            if any(n == lib or n.startswith(f"{lib}.") for n in names)
        ],
    }


def imports(world: World) -> dict[str, Any]:
    """The import profile of every function."""
    env = world.urls.function_env()
    return {spec.target: import_profile(spec.target, env) for spec in FUNCTIONS}
