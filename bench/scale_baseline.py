"""The serial maintenance loop of the commit before fleet maintenance, measured.

Run by ``bench/scale.py`` with that commit's tree first on ``PYTHONPATH`` and the local
stack's settings in the environment: it imports *that* tree's ``shared`` package and runs
its ``renew`` then ``reconcile`` tasks as ``watch_maintenance`` did (one invocation each,
a loop over every account), then prints one JSON line of measurements.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from bench.counting import count_firestore
from shared import bootstrap
from shared.google_errors import EVENT_POLICY
from shared.ports.sync import SourceKind
from shared.settings import get_settings


def main() -> None:
    """Run both tasks and print the measurements."""
    counts: Counter[str] = Counter()
    # That tree's container: its watch service has the serial renew_due and reconcile.
    app: Any = bootstrap.Container(get_settings(), EVENT_POLICY)
    count_firestore(app.firestore, counts)
    began = time.monotonic()
    failed = None
    renew: Any = None
    reconcile: Any = None
    renewed = began
    try:
        renew = app.watch_service.renew_due(datetime.now(UTC))
        renewed = time.monotonic()
        runners = {kind: app.sync_runner(kind) for kind in SourceKind}
        reconcile = app.watch_service.reconcile(datetime.now(UTC), runners)
    except Exception as exc:  # the serial loop failing at this size is itself the result
        failed = f"{type(exc).__name__} after {time.monotonic() - began:.0f} s"
    ended = time.monotonic()
    invocations = [renewed - began, ended - renewed]
    print(
        json.dumps(
            {
                "wall_seconds": ended - began,
                "invocations": 2,
                "tick_invocations": 2,
                "work_invocations": 0,
                "max_accounts_per_invocation": None,
                "slowest_invocation_seconds": max(invocations),
                "renew": renew,
                "reconcile": reconcile,
                "failed": failed,
                "firestore": dict(counts),
            }
        )
    )


if __name__ == "__main__":
    main()
