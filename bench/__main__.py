"""``python -m bench`` (``make bench``): start the local stack, run every benchmark, write
``docs/benchmarks.md`` and ``docs/benchmarks.json``, stop everything it started."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from devstack.stack import REPO_ROOT, Stack


def _machine() -> dict[str, str]:
    memory = subprocess.run(["free", "-h"], capture_output=True, text=True, check=False).stdout
    total = next((line.split()[1] for line in memory.splitlines() if line.startswith("Mem:")), "?")
    return {
        "cpus": subprocess.run(
            ["nproc"], capture_output=True, text=True, check=False
        ).stdout.strip(),
        "memory": f"{total} RAM",
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _step(name: str) -> float:
    print(f"[bench] {name}...", flush=True)
    return time.monotonic()


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM stops the stack like Ctrl-C."""
    raise KeyboardInterrupt


def _write_cold_start(
    results: dict[str, Any], docs: Path, command: str, date: str, began: float
) -> None:
    """Replace the cold-start figures of ``docs/benchmarks.json`` and rewrite both files;
    the cold-start section names the command and date that produced it."""
    from bench import report

    previous = json.loads((docs / "benchmarks.json").read_text())
    results["cold_start"].update(
        command=command, date=date, load_average_1_5_15=[round(x, 1) for x in os.getloadavg()]
    )
    previous.update(cold_start=results["cold_start"], imports=results["imports"])
    report.write(previous, docs)
    print(f"[bench] wrote {docs / 'benchmarks.md'} in {time.monotonic() - began:.0f} s")


COST_BEFORE = REPO_ROOT / "bench" / "cost_before.json"


def _cost_run(measured: dict[str, Any], args: argparse.Namespace, command: str) -> dict[str, Any]:
    """How the cost figures were made, and the recorded 'before' they are compared with."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    run = {
        "command": command,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
        "runs": args.runs,
    }
    if args.record_cost_before:
        before = {**run, "cost": {flow: row["measured"] for flow, row in measured.items()}}
        COST_BEFORE.write_text(json.dumps(before, indent=2) + "\n")
    if COST_BEFORE.exists():
        run["before"] = json.loads(COST_BEFORE.read_text())
    return run


def _cost_only(world: Any, args: argparse.Namespace, command: str, began: float) -> int:
    """Measure the cost per notification; every other section keeps its last figures."""
    from bench import cost, report

    results: dict[str, Any] = json.loads((args.docs / "benchmarks.json").read_text())
    _step("cost per notification")
    results["cost"] = cost.measure(world, args.runs)
    results["cost_run"] = _cost_run(results["cost"], args, command)
    results["cost_run"]["duration_seconds"] = time.monotonic() - began
    report.write(results, args.docs)
    print(f"[bench] wrote the cost section of {args.docs / 'benchmarks.md'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--runs", type=int, default=3, help="runs per cold start and cost figure")
    parser.add_argument("--burst-runs", type=int, default=3, help="runs per burst size")
    parser.add_argument("--bursts", default="10,100,1000", help="Gmail burst sizes")
    parser.add_argument("--drive-bursts", default="10,100", help="Drive burst sizes")
    parser.add_argument("--drive-runs", type=int, default=1, help="runs per Drive burst size")
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--per-account", type=int, default=10)
    parser.add_argument("--mails", type=int, default=50, help="mails for the latency figure")
    parser.add_argument(
        "--calendar-events", type=int, default=50_000, help="events of the large calendar"
    )
    parser.add_argument("--docs", type=Path, default=REPO_ROOT / "docs")
    parser.add_argument("--workdir", type=Path, default=REPO_ROOT / ".devstack" / "bench")
    parser.add_argument(
        "--only",
        choices=["cold-start", "cost"],
        help="run only this benchmark; the other sections keep docs/benchmarks.json's figures",
    )
    parser.add_argument(
        "--record-cost-before",
        action="store_true",
        help=f"also store this run's cost as the 'before' of the cost table ({COST_BEFORE.name})",
    )
    args = parser.parse_args(argv)
    if args.only and not (args.docs / "benchmarks.json").exists():
        # Checked before measuring: a partial run merges into the last full run's figures.
        parser.error(f"--only needs a full run's {args.docs / 'benchmarks.json'} to merge into")
    command = " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])])
    signal.signal(signal.SIGTERM, _interrupt)

    # Keep the emulators this command starts its own, whatever the shell exports.
    for name in ("FIRESTORE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST", "FIREBASE_AUTH_EMULATOR_HOST"):
        os.environ.pop(name, None)
    began = time.monotonic()
    started = _step("starting the local stack")
    stack = Stack(args.workdir, project_id="demo-uplus-bench")
    try:
        urls = stack.start()
        print(f"[bench] stack up in {time.monotonic() - started:.0f} s", flush=True)
        from bench import cold_start, cost, load
        from bench.world import World

        world = World(urls, args.workdir)
        if args.only == "cost":
            return _cost_only(world, args, command, began)
        date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        results: dict[str, Any] = {
            "command": command,
            "date": date,
            "machine": _machine(),
            "runs": args.runs,
            "drive_runs": args.drive_runs,
        }
        _step(f"cold starts ({args.runs} runs of each function, its floor and hello)")
        probe_user = world.linked_user()
        results["cold_start"] = cold_start.measure(world, probe_user, args.runs)
        _step("import profiles")
        results["imports"] = cold_start.imports(world)
        if args.only == "cold-start":
            _write_cold_start(results, args.docs, command, date, began)
            return 0
        _step("end-to-end latency")
        results["latency"] = load.latency(world, args.mails)
        _step("revoked sessions check")
        from bench import auth_check

        results["auth_check"] = auth_check.measure(urls.auth, urls.project_id)
        _step("bursts")
        sizes = [int(size) for size in args.bursts.split(",")]
        drive_sizes = [int(size) for size in args.drive_bursts.split(",")]
        results["bursts"] = load.bursts(
            world,
            sizes,
            drive_sizes,
            args.accounts,
            args.per_account,
            args.burst_runs,
            args.drive_runs,
        )
        _step("cost per notification")
        results["cost"] = cost.measure(world, args.runs)
        results["cost_run"] = _cost_run(results["cost"], args, command)
        _step(f"a calendar of {args.calendar_events} events: initial sync, 410 resync")
        from bench import calendar_size

        results["calendar_size"] = calendar_size.measure(world, args.calendar_events)
        results["duration_seconds"] = time.monotonic() - began
        args.docs.mkdir(parents=True, exist_ok=True)
        from bench import report

        report.write(results, args.docs)
        print(f"[bench] wrote {args.docs / 'benchmarks.md'} in {results['duration_seconds']:.0f} s")
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
