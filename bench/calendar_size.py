"""A large calendar: the initial sync when it is followed, then a full resync after 410
Gone, with Firestore operations counted.

The watch service and the calendar sync runner run in this process (the functions' own
container) against the stack's emulators and fake Google, with the counting wrapper of
``bench.counting`` around our Firestore client. Firestore limits checked: 1 MiB per
document, 40,000 index entries per document, 500 writes per commit
(https://firebase.google.com/docs/firestore/quotas); each is reported next to what we used.

``python -m bench.calendar_size [--events 50000]`` runs it alone (its own stack);
``make bench`` runs it with the other benchmarks.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from bench.counting import count_firestore
from bench.world import World
from devstack.drivers.watch import calendar_change, calendar_control
from devstack.stack import REPO_ROOT, Stack

CALENDAR_ID = "c_bench.big@group.calendar.google.com"
SEED_CHUNK = 2000
CHANGED = 50  # events patched, deleted and inserted (each) before the 410


class _CountingWrites:
    """Records the largest number of writes one commit carried."""

    def __init__(self, real: Any, counts: Counter[str]) -> None:
        self._real, self._counts = real, counts

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def commit(self, request: Any = None, **kwargs: Any) -> Any:
        self._counts["max_writes_per_commit"] = max(
            self._counts["max_writes_per_commit"], len(request["writes"])
        )
        return self._real.commit(request=request, **kwargs)


def _event(number: int) -> dict[str, Any]:
    start = datetime(2020, 1, 1, 9, tzinfo=UTC) + timedelta(hours=3 * number)
    return {
        "calendarId": CALENDAR_ID,
        "summary": f"Event {number}",
        "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": (start + timedelta(hours=1)).isoformat()},
    }


def _seed(world: World, sub: str, events: int) -> None:
    calendar_control(
        world.urls.fake_google,
        "seed",
        sub,
        calendars=[{"id": CALENDAR_ID, "summary": "Big", "accessRole": "owner"}],
    )
    for start in range(0, events, SEED_CHUNK):
        numbers = range(start, min(start + SEED_CHUNK, events))
        calendar_control(world.urls.fake_google, "seed", sub, events=[_event(n) for n in numbers])


def _doc_bytes(data: dict[str, Any]) -> int:
    return len(json.dumps(data, default=str).encode())


def measure(world: World, events: int) -> dict[str, Any]:
    """Initial sync and 410 full resync of a calendar of ``events`` events."""
    user = world.linked_user()
    world.settle()
    _seed(world, user.sub, events)
    os.environ.update(world.urls.function_env())
    os.environ["LOG_LEVEL"] = "WARNING"
    from shared.bootstrap import container
    from shared.ports.sync import SourceKind, SyncKey

    app = container("event")
    counts: Counter[str] = Counter()
    count_firestore(app.firestore, counts)
    app.firestore._firestore_api_internal = _CountingWrites(
        app.firestore._firestore_api_internal, counts
    )
    uid = user.auth.uid
    key = SyncKey(uid, SourceKind.CALENDAR, CALENDAR_ID)

    began = time.monotonic()
    app.watch_service.start_calendar(uid, CALENDAR_ID)
    initial: dict[str, Any] = {"seconds": round(time.monotonic() - began, 1), **counts}
    initial["google_list_pages"] = len(world.google.calls(method="calendar.events.list"))

    # Keep the stack's webhook out of it: this process runs the resync, counted.
    channel = next(
        c
        for c in requests.get(
            f"{world.urls.fake_google}/_control/calendar/channels", timeout=10
        ).json()["channels"]
        if c["calendarId"] == CALENDAR_ID and not c["stopped"]
    )
    requests.post(
        f"{world.urls.fake_google}/_control/calendar/channels/{channel['id']}/drop_next",
        json={"count": 10 * CHANGED},
        timeout=10,
    ).raise_for_status()
    stored = requests.get(
        f"{world.urls.fake_google}/_control/calendar/events",
        params={"sub": user.sub, "calendarId": CALENDAR_ID},
        timeout=60,
    ).json()["events"]
    ids = [e["resource"]["id"] for e in stored[: 2 * CHANGED]]
    for event_id in ids[:CHANGED]:
        calendar_change(
            world.urls.fake_google,
            user.sub,
            "patch",
            calendarId=CALENDAR_ID,
            eventId=event_id,
            event={"summary": "Moved"},
        )
    for event_id in ids[CHANGED:]:
        calendar_change(
            world.urls.fake_google, user.sub, "delete", calendarId=CALENDAR_ID, eventId=event_id
        )
    for number in range(CHANGED):
        calendar_change(
            world.urls.fake_google,
            user.sub,
            "insert",
            calendarId=CALENDAR_ID,
            event=_event(events + number),
        )
    calendar_control(world.urls.fake_google, "sync_tokens/expire", user.sub, calendarId=CALENDAR_ID)
    world.google.reset_calls()
    counts.clear()
    began = time.monotonic()
    app.sync_runner(SourceKind.CALENDAR).notify(key)
    resync: dict[str, Any] = {"seconds": round(time.monotonic() - began, 1), **counts}
    resync["google_list_pages"] = len(world.google.calls(method="calendar.events.list"))
    resync["google_410"] = sum(
        1 for c in world.google.calls(method="calendar.events.list") if c["status"] == 410
    )
    feed = app.firestore.collection("users").document(uid).collection("activity").stream()
    told = Counter(doc.to_dict()["change"] for doc in feed)
    resync["items"] = dict(told)
    resync["items_expected"] = {"modified": CHANGED, "cancelled": CHANGED, "created": CHANGED}

    cursor = app.sync_store.cursor_ref(key).get().to_dict() or {}
    records = app.sync_store.cursor_ref(key).collection("events")
    sample = next(iter(records.limit(1).stream())).to_dict() or {}
    record_count = records.count().get()[0][0].value
    return {
        "events": events,
        "initial": initial,
        "resync": resync,
        "records_stored": record_count,
        "largest_documents": {
            "cursor_bytes": _doc_bytes(cursor),
            "record_bytes": _doc_bytes(sample),
            "limit_bytes": 1_048_576,
            "cursor_fields": len(cursor),
            "limit_index_entries": 40_000,
        },
        "max_writes_per_commit": max(
            initial.get("max_writes_per_commit", 0), resync.get("max_writes_per_commit", 0)
        ),
        "limit_writes_per_commit": 500,
    }


def main(argv: list[str] | None = None) -> int:
    """Run this benchmark alone on its own stack; print the figures as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.calendar_size")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--workdir", type=Path, default=REPO_ROOT / ".devstack" / "bench-calendar")
    args = parser.parse_args(argv)
    for name in ("FIRESTORE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST", "FIREBASE_AUTH_EMULATOR_HOST"):
        os.environ.pop(name, None)
    stack = Stack(args.workdir, project_id="demo-uplus-bench")
    try:
        urls = stack.start()
        result = measure(World(urls, args.workdir), args.events)
        print(json.dumps(result, indent=2))
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
