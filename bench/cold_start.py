"""Cold start: process start → first real response, per function, next to a bare
functions-framework hello world and the function's own floor (its third-party libraries and
nothing of ours), all started the same way; and what each function imports."""

from __future__ import annotations

import base64
import importlib.util
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
FLOOR_TARGETS = {"http": "floor_http", "cloudevent": "floor_event"}
# Top-level packages that are ours: everything else outside the standard library is a library.
OUR_PACKAGES = frozenset({"main", "shared", "functions", "__main__"})
_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")
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


def _argv(target: str, signature: str, port: int, flags: tuple[str, ...] = ()) -> list[str]:
    return [
        sys.executable,
        *flags,
        "-m",
        "functions_framework",
        "--source=main.py",
        f"--target={target}",
        f"--signature-type={signature}",
        "--host=127.0.0.1",
        f"--port={port}",
    ]


def _source_dir(target: str) -> Path:
    """Where ``main.py`` of a target is: the repository, the hello world or the floor."""
    if target == HELLO:
        return REPO_ROOT / "bench" / "hello"
    if target in FLOOR_TARGETS.values():
        return REPO_ROOT / "bench" / "floor"
    return REPO_ROOT


@dataclass(frozen=True)
class Start:
    """One cold start: wall seconds from spawn to the first accepted answer, and the CPU
    seconds (user + system) its processes (server and worker) used until then."""

    wall: float
    cpu: float


def _session_cpu_seconds(session: int) -> float:
    """User + system CPU seconds of the live processes of a session (``/proc/*/stat``)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # exited meanwhile
        if int(fields[3]) == session:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def start_to_first_answer(
    target: str,
    signature: str,
    probe: Probe,
    env: dict[str, str],
    log: Path,
    flags: tuple[str, ...] = (),
) -> Start:
    """Spawn the process, poll until the probe's first accepted answer, stop it; the
    process's output is appended to ``log``."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("ab") as output:
        began = time.monotonic()
        process = subprocess.Popen(
            _argv(target, signature, port, flags),
            env={**os.environ, **env},
            cwd=_source_dir(target),
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
                    wall = time.monotonic() - began
                    return Start(wall, _session_cpu_seconds(process.pid))
                raise RuntimeError(f"{target} answered {response.status_code}: {response.text}")
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _import_tree(stderr: str) -> list[tuple[int, int, str]]:
    """``-X importtime`` lines as (depth, cumulative µs, module), in the order printed: a
    module's line comes after the lines of the modules it imported, one level deeper."""
    entries: list[tuple[int, int, str]] = []
    for line in stderr.splitlines():
        match = _LINE.match(line)
        if match:
            entries.append((len(match.group(3)) // 2, int(match.group(2)), match.group(4)))
    return entries


def _is_library(module: str) -> bool:
    top = module.split(".")[0]
    return top not in sys.stdlib_module_names and top not in OUR_PACKAGES


def _exists(module: str) -> bool:
    """False for the imports a library only tries (``org.python.core`` on CPython)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


def libraries_asked_for(entries: list[tuple[int, int, str]]) -> list[str]:
    """The library modules imported by our code, the standard library or the runtime (not
    by another library), in import order: importing these reproduces every library import
    of the process and nothing of ours."""
    parents: dict[int, str] = {}
    asked: list[str] = []
    for depth, _, name in reversed(entries):
        parent = parents.get(depth - 1) if depth else None
        parents[depth] = name
        if _is_library(name) and (parent is None or not _is_library(parent)):
            asked.append(name)
    asked.reverse()
    return [name for name in dict.fromkeys(asked) if _exists(name)]


def library_census(
    spec: FunctionSpec, probe: Probe, env: dict[str, str], workdir: Path
) -> list[str]:
    """The libraries a function has imported once it answered its first request: the
    function started like in ``measure`` under ``python -X importtime`` (inherited by the
    server's worker), its probe sent once, its import log read."""
    log = workdir / "logs" / f"bench-census-{spec.target}.log"
    log.unlink(missing_ok=True)
    start_to_first_answer(spec.target, spec.signature, probe, env, log, ("-X", "importtime"))
    return libraries_asked_for(_import_tree(log.read_text(errors="replace")))


def _floor_probe(signature: str) -> Probe:
    """GET / of an HTTP floor, or a CloudEvent to an event floor."""

    def send(base: str) -> requests.Response:
        if signature == "http":
            return requests.get(base, timeout=30)
        return _cloud_event(base, "bench-floor", {"task": "floor"})

    return Probe("one Firestore read", send, lambda status: status < 300)


def measure(world: World, user: BenchUser, runs: int) -> dict[str, Any]:
    """Median cold start of every function, of its floor and of the hello world,
    interleaved run by run (function, its floor, ..., hello)."""
    env = world.urls.function_env()
    by_name = probes(user)
    log = world.workdir / "logs" / "bench-cold-start.log"
    census = {
        spec.target: library_census(spec, by_name[spec.target], env, world.workdir)
        for spec in FUNCTIONS
    }
    starts: dict[str, list[Start]] = {spec.target: [] for spec in FUNCTIONS}
    floors: dict[str, list[Start]] = {spec.target: [] for spec in FUNCTIONS}
    hellos: list[Start] = []
    for _ in range(runs):
        for spec in FUNCTIONS:
            probe = by_name[spec.target]
            starts[spec.target].append(
                start_to_first_answer(spec.target, spec.signature, probe, env, log)
            )
            floor_env = {**env, "FLOOR_IMPORTS": ",".join(census[spec.target])}
            floor_target = FLOOR_TARGETS[spec.signature]
            floors[spec.target].append(
                start_to_first_answer(
                    floor_target, spec.signature, _floor_probe(spec.signature), floor_env, log
                )
            )
        hellos.append(start_to_first_answer(HELLO, "http", by_name[HELLO], env, log))
    hello = _summary(hellos)
    rows: dict[str, Any] = {}
    for spec in FUNCTIONS:
        own, floor = _summary(starts[spec.target]), _summary(floors[spec.target])
        rows[spec.target] = {
            "probe": by_name[spec.target].description,
            **own,
            "floor": floor,
            "ratio_to_floor": _ratio(own["median_seconds"], floor["median_seconds"]),
            "ratio_to_hello": _ratio(own["median_seconds"], hello["median_seconds"]),
            "floor_ratio_to_hello": _ratio(floor["median_seconds"], hello["median_seconds"]),
            "cpu_ratio_to_floor": _ratio(own["median_cpu_seconds"], floor["median_cpu_seconds"]),
            "cpu_ratio_to_hello": _ratio(own["median_cpu_seconds"], hello["median_cpu_seconds"]),
            "floor_imports": census[spec.target],
        }
    return {"runs": runs, "hello": hello, "functions": rows}


def _summary(starts: list[Start]) -> dict[str, Any]:
    return {
        "median_seconds": median([start.wall for start in starts]),
        "median_cpu_seconds": median([start.cpu for start in starts]),
        "samples": [start.wall for start in starts],
        "cpu_samples": [start.cpu for start in starts],
    }


def _ratio(value: float, base: float) -> float:
    return value / base if base else 0.0


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
    entries = _import_tree(result.stderr)
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
