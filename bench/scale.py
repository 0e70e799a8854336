"""``python -m bench.scale`` (``make bench-scale``, not part of ``make test``): one full
maintenance cycle over a simulated fleet, beside today's serial loop as the baseline.

On its own local stack: the baseline first (``--baseline`` accounts, 1,000 by default:
the serial ``renew`` then ``reconcile`` loop of the commit before fleet maintenance, run
from a git worktree of that commit), then the fleet (``--accounts``, 10,000): the tick and
every work message it leads to, until the work topic is empty. Both run the production
entry code in this process with Firestore counted at the client (``bench/counting.py``);
the work topic is pulled by ``--workers`` threads, each one function instance of
concurrency 1. Google calls come from the fake's call log. Results go to
``docs/scale.json`` and the measured section of ``docs/scale.md``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

from devstack.stack import REPO_ROOT, Stack, StackUrls

BASELINE_COMMIT = "9a325e2"  # main before fleet maintenance: the serial loop
MARK_START, MARK_END = "<!-- measured:start -->", "<!-- measured:end -->"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _log(message: str) -> None:
    print(f"[bench-scale] {message}", flush=True)


class PullWork:
    """A pull subscription on one topic, replacing the function's push subscription."""

    def __init__(self, urls: StackUrls, topic: str, name: str, push_target: str) -> None:
        self.api = f"http://{urls.pubsub}/v1/projects/{urls.project_id}"
        requests.delete(f"{self.api}/subscriptions/{push_target}-push", timeout=30)
        requests.put(
            f"{self.api}/subscriptions/{name}",
            json={
                "topic": f"projects/{urls.project_id}/topics/{topic}",
                "ackDeadlineSeconds": 600,
            },
            timeout=30,
        ).raise_for_status()
        self.url = f"{self.api}/subscriptions/{name}"

    def pull(self) -> tuple[str, dict[str, Any]] | None:
        """One message (ack id, the push envelope's ``message``), or None."""
        response = requests.post(
            f"{self.url}:pull", json={"maxMessages": 1, "returnImmediately": True}, timeout=60
        )
        response.raise_for_status()
        received = response.json().get("receivedMessages", [])
        if not received:
            return None
        return received[0]["ackId"], received[0]["message"]

    def ack(self, ack_id: str) -> None:
        requests.post(
            f"{self.url}:acknowledge", json={"ackIds": [ack_id]}, timeout=60
        ).raise_for_status()


def _event(topic: str, message: dict[str, Any]) -> Any:
    from cloudevents.http import CloudEvent

    attributes = {
        "id": message["messageId"],
        "type": "google.cloud.pubsub.topic.v1.messagePublished",
        "source": f"//pubsub.googleapis.com/{topic}",
        "specversion": "1.0",
    }
    return CloudEvent(attributes, {"message": message, "subscription": "bench"})


def run_fleet_cycle(urls: StackUrls, uids: list[str], workers: int) -> dict[str, Any]:
    """Publish one tick and run every invocation it leads to; the measurements."""
    from bench.counting import count_firestore
    from shared import bootstrap
    from shared.google_errors import EVENT_POLICY
    from shared.settings import get_settings

    counts: Counter[str] = Counter()
    container = bootstrap.Container(get_settings(), EVENT_POLICY)
    count_firestore(container.firestore, counts)
    bootstrap.install(container)
    from functions.maintenance_worker import maintenance_worker
    from functions.watch_maintenance import watch_maintenance

    ticks = PullWork(urls, "maintenance-ticks", "bench-ticks", "watch_maintenance")
    work = PullWork(urls, "maintenance-work", "bench-work", "maintenance_worker")
    requests.post(
        f"{ticks.api}/topics/maintenance-ticks:publish",
        json={"messages": [{"data": base64.b64encode(b'{"task": "tick"}').decode()}]},
        timeout=30,
    ).raise_for_status()

    lock = threading.Lock()
    invocations: list[dict[str, Any]] = []
    busy = [0]

    def one(subscription: PullWork, topic: str, handler: Any) -> bool:
        pulled = subscription.pull()
        if pulled is None:
            return False
        ack_id, message = pulled
        with lock:
            busy[0] += 1
        try:
            body = json.loads(base64.b64decode(message.get("data", "")) or b"{}")
            started = time.monotonic()
            handler(_event(topic, message))
            sources = body.get("sources") or []
            with lock:
                invocations.append(
                    {
                        "task": body.get("task"),
                        "sources": len(sources),
                        "accounts": len({source[0] for source in sources}),
                        "seconds": time.monotonic() - started,
                    }
                )
            subscription.ack(ack_id)
        finally:
            with lock:
                busy[0] -= 1
        return True

    began = time.monotonic()
    idle_since = [time.monotonic()]

    def loop() -> None:
        while True:
            did = one(ticks, "maintenance-ticks", watch_maintenance) or one(
                work, "maintenance-work", maintenance_worker
            )
            with lock:
                if did:
                    idle_since[0] = time.monotonic()
                elif busy[0] == 0 and invocations and time.monotonic() - idle_since[0] > 8:
                    return
            if not did:
                time.sleep(0.2)

    threads = [threading.Thread(target=loop) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = max(0.0, idle_since[0] - began)
    work_runs = [i for i in invocations if i["task"] in ("work", "sync")]
    return {
        "accounts": len(uids),
        "wall_seconds": wall,
        "invocations": len(invocations),
        "tick_invocations": sum(1 for i in invocations if i["task"] == "tick"),
        "work_invocations": len(work_runs),
        "max_accounts_per_invocation": max((i["accounts"] for i in work_runs), default=0),
        "max_sources_per_invocation": max((i["sources"] for i in work_runs), default=0),
        "slowest_invocation_seconds": max((i["seconds"] for i in invocations), default=0),
        "firestore": dict(counts),
    }


def run_baseline(urls: StackUrls, accounts: int) -> dict[str, Any]:
    """Today's serial loop (``renew`` then ``reconcile`` in one invocation each) from a
    worktree of ``BASELINE_COMMIT``, in a subprocess; its measurements."""
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        tree = Path(tmp) / "baseline"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(tree), BASELINE_COMMIT],
            cwd=REPO_ROOT,
            check=True,
            capture_output=True,
        )
        try:
            env = {**os.environ, **urls.function_env(), "PYTHONPATH": str(tree)}
            script = REPO_ROOT / "bench" / "scale_baseline.py"
            done = subprocess.run(
                [sys.executable, str(script)],
                cwd=tree,
                env=env,
                check=False,
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                raise SystemExit(f"the serial baseline failed:\n{done.stderr[-4000:]}")
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(tree)],
                cwd=REPO_ROOT,
                check=False,
                capture_output=True,
            )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["accounts"] = accounts
    result["max_accounts_per_invocation"] = accounts  # every account, in each invocation
    return result


_LISTS = ("gmail.users.history.list", "drive.changes.list", "calendar.events.list")


def _google_calls(fake_google: str) -> Counter[str]:
    response = requests.get(f"{fake_google}/_control/calls", timeout=120)
    response.raise_for_status()
    return Counter(call["method"] for call in response.json()["calls"])


def _reset(fake_google: str, urls: StackUrls) -> None:
    requests.post(f"{fake_google}/_control/reset", timeout=60).raise_for_status()
    requests.delete(
        f"http://{urls.firestore}/emulator/v1/projects/{urls.project_id}"
        "/databases/(default)/documents",
        timeout=120,
    ).raise_for_status()


def _seed(urls: StackUrls, prefix: str, count: int) -> list[str]:
    from google.cloud.firestore import Client

    from bench.fleet import seed
    from shared.vault import TokenVault, parse_keys

    vault = TokenVault(parse_keys(urls.vault_keys), "local-1")
    return seed(Client(project=urls.project_id), urls.fake_google, vault, prefix, count)


def _per_account(result: dict[str, Any], calls: Counter[str]) -> None:
    accounts = result["accounts"]
    result["google_calls"] = dict(calls)
    result["google_calls_per_account"] = sum(calls.values()) / accounts
    firestore = result["firestore"]
    for kind in ("reads", "writes", "deletes"):
        result[f"firestore_{kind}_per_account"] = firestore.get(kind, 0) / accounts


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.scale")
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=8, help="concurrent worker instances")
    parser.add_argument("--docs", type=Path, default=REPO_ROOT / "docs")
    parser.add_argument("--workdir", type=Path, default=REPO_ROOT / ".devstack" / "scale")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    for name in ("FIRESTORE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST", "FIREBASE_AUTH_EMULATOR_HOST"):
        os.environ.pop(name, None)
    began = time.monotonic()
    stack = Stack(args.workdir, project_id="demo-uplus-scale")
    try:
        urls = stack.start(timeout=600)  # a loaded machine starts the emulators slowly
        os.environ.update(urls.function_env())
        results: dict[str, Any] = {
            "command": " ".join(
                ["python -m bench.scale", *(argv if argv is not None else sys.argv[1:])]
            ),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "cpus": os.cpu_count(),
            "workers": args.workers,
        }
        if args.baseline:
            _log(f"seeding {args.baseline} accounts for the serial baseline")
            _seed(urls, "base", args.baseline)
            requests.delete(f"{urls.fake_google}/_control/calls", timeout=60)
            _log(f"serial loop of {BASELINE_COMMIT} over {args.baseline} accounts")
            baseline = run_baseline(urls, args.baseline)
            _per_account(baseline, _google_calls(urls.fake_google))
            results["baseline"] = baseline
            _log(f"baseline: {baseline['wall_seconds']:.0f} s")
            _reset(urls.fake_google, urls)
        _log(f"seeding {args.accounts} accounts")
        seeded = time.monotonic()
        uids = _seed(urls, "fleet", args.accounts)
        results["seed_seconds"] = time.monotonic() - seeded
        requests.delete(f"{urls.fake_google}/_control/calls", timeout=60)
        _log("one maintenance cycle")
        fleet = run_fleet_cycle(urls, uids, args.workers)
        _per_account(fleet, _google_calls(urls.fake_google))
        results["fleet"] = fleet
        results["duration_seconds"] = time.monotonic() - began
        _log(f"fleet: {fleet['wall_seconds']:.0f} s, {fleet['invocations']} invocations")
        write(results, args.docs)
    finally:
        stack.stop()
    return 0


def write(results: dict[str, Any], docs: Path) -> None:
    """``docs/scale.json`` and the measured section of ``docs/scale.md``."""
    docs.mkdir(parents=True, exist_ok=True)
    (docs / "scale.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    rows = [
        ("today's serial loop", results.get("baseline")),
        ("fleet maintenance", results["fleet"]),
    ]
    lines = [
        MARK_START,
        f"Measured {results['date']} with `{results['command']}` ({results['cpus']} CPUs, "
        f"{results['workers']} worker threads; everything on one machine).",
        "",
        "| run | accounts | wall time | invocations | most accounts in one invocation "
        "| slowest invocation | Google calls / account | Firestore reads / account "
        "| writes / account | deletes / account |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in rows:
        if not row:
            continue
        if row.get("failed"):
            name = f"{name} (**failed**: {row['failed']})"
        lines.append(
            f"| {name} | {row['accounts']:,} | {row['wall_seconds']:.0f} s "
            f"| {row['invocations']:,} | {row['max_accounts_per_invocation']:,} "
            f"| {row['slowest_invocation_seconds']:.1f} s "
            f"| {row['google_calls_per_account']:.2f} | {row['firestore_reads_per_account']:.1f} "
            f"| {row['firestore_writes_per_account']:.1f} "
            f"| {row['firestore_deletes_per_account']:.1f} |"
        )
    lines.append("")
    for name, row in rows:
        if row and row.get("failed"):
            lists = sum(row["google_calls"].get(m, 0) for m in _LISTS)
            lines.append(
                f"- The {name} failed ({row['failed']}) having reconciled {lists:,} of "
                f"{3 * row['accounts']:,} sources; its figures per account cover that part."
            )
    for name, row in rows:
        if row:
            calls = ", ".join(f"`{k}` {v:,}" for k, v in sorted(row["google_calls"].items()))
            lines.append(f"- Google calls of the {name}: {calls}.")
    lines.append(MARK_END)
    path = docs / "scale.md"
    text = path.read_text() if path.exists() else f"# Scale\n\n{MARK_START}\n{MARK_END}\n"
    head, _, rest = text.partition(MARK_START)
    _, _, tail = rest.partition(MARK_END)
    path.write_text(head + "\n".join(lines) + tail)


if __name__ == "__main__":
    sys.exit(main())
