"""Writes the results as ``docs/benchmarks.md`` (tables) and ``docs/benchmarks.json``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _cold_verdict(results: dict[str, Any]) -> str:
    """How many functions are within 1.1x of their floor (CPU), the ratio over all of them
    together, and how far one floor's own samples spread (what a single ratio can resolve)."""
    functions = results["cold_start"]["functions"]
    within = [name for name, row in functions.items() if row["cpu_ratio_to_floor"] <= 1.1]
    ours = sum(row["median_cpu_seconds"] for row in functions.values())
    floors = sum(row["floor"]["median_cpu_seconds"] for row in functions.values())
    spreads = [
        max(samples) / min(samples)
        for row in functions.values()
        if (samples := row["floor"].get("cpu_samples"))
    ]
    spread = f"; one floor's own samples spread up to {max(spreads):.2f}x" if spreads else ""
    return (
        f"CPU ratio to the floor: {len(within)} of {len(functions)} functions at or under "
        f"1.1x; all functions together (sum of medians) {ours / floors:.2f}x{spread}, so a "
        "single function's ratio moves by more than the target's margin between runs."
    )


def _cold(results: dict[str, Any]) -> str:
    cold = results["cold_start"]
    hello = cold["hello"]
    rows = [
        [
            "hello world (baseline)",
            _ms(hello["median_seconds"]),
            "-",
            "-",
            "1.0x",
            _ms(hello["median_cpu_seconds"]),
            "-",
            "-",
            "1.0x",
        ]
    ]
    for name, row in cold["functions"].items():
        rows.append(
            [
                f"`{name}`",
                _ms(row["median_seconds"]),
                _ms(row["floor"]["median_seconds"]),
                f"{row['ratio_to_floor']:.2f}x",
                f"{row['ratio_to_hello']:.1f}x",
                _ms(row["median_cpu_seconds"]),
                _ms(row["floor"]["median_cpu_seconds"]),
                f"**{row['cpu_ratio_to_floor']:.2f}x**",
                f"{row['cpu_ratio_to_hello']:.1f}x",
            ]
        )
    return _table(
        [
            "function",
            "wall: start → first answer",
            "wall: its floor",
            "wall ratio to floor",
            "wall ratio to hello",
            "CPU to first answer",
            "CPU: its floor",
            "CPU ratio to floor",
            "CPU ratio to hello",
        ],
        rows,
    )


def _library(module: str) -> str:
    """The distribution-level name of a library module: its top package, or two levels
    for the ``google`` namespace (``google.cloud.firestore_v1``: ``google.cloud``)."""
    parts = module.split(".")
    if parts[0] == "google" and len(parts) > 2 and parts[1] == "cloud":
        return ".".join(parts[:3])
    return ".".join(parts[:2]) if parts[0] == "google" and len(parts) > 1 else parts[0]


def _floors(results: dict[str, Any]) -> str:
    rows = []
    for name, row in results["cold_start"]["functions"].items():
        libraries = sorted({_library(m) for m in row["floor_imports"] if not m.startswith("_")})
        rows.append([f"`{name}`", row["probe"], ", ".join(libraries)])
    return _table(["function", "first request", "libraries its floor imports"], rows)


def _cold_source(results: dict[str, Any]) -> str:
    """Which command produced the cold-start figures, when not the whole run."""
    cold = results["cold_start"]
    if "command" not in cold:
        return ""
    return (
        f"Figures of this section: `{cold['command']}` on {cold['date']}, median of "
        f"{cold['runs']} runs, load average at the end {cold['load_average_1_5_15']} (1/5/15 min)."
    )


def _imports(results: dict[str, Any]) -> str:
    rows = []
    for name, row in results["imports"].items():
        top = ", ".join(f"`{t['module']}` {t['cumulative_ms']:.0f}" for t in row["top"][:4])
        rows.append(
            [
                f"`{name}`",
                f"{row['total_ms']:.0f} ms",
                str(row["modules"]),
                ", ".join(row["libraries"]) or "-",
                top,
            ]
        )
    return _table(
        [
            "function",
            "import time",
            "modules",
            "watched libraries loaded",
            "slowest (cumulative ms)",
        ],
        rows,
    )


def _cost_verdict(results: dict[str, Any]) -> str:
    from bench.cost_report import verdict

    return verdict(results)


def _cost(results: dict[str, Any]) -> str:
    from bench.cost_report import markdown

    return markdown(results)


def _bursts(results: dict[str, Any]) -> str:
    rows = []
    bursts = results["bursts"]
    for source, lister in (("gmail", "history.list"), ("drive", "changes.list")):
        for size, row in bursts[source].items():
            m = row["median"]
            rows.append(
                [
                    source,
                    "1",
                    size,
                    _num(m["new_items"]),
                    _num(m["delivered"]),
                    _num(m["duplicates"]),
                    f"{_num(m['list_calls'])} {lister}",
                    _num(m.get("webhook_errors")),
                    _num(m.get("reconcile_runs")),
                    f"{m['wall_seconds']:.1f} s",
                ]
            )
    many = bursts["many_accounts"]
    m = many["median"]
    rows.append(
        [
            "gmail",
            str(many["accounts"]),
            f"{many['per_account']} each ({_num(m['notifications'])})",
            _num(m["new_items"]),
            _num(m["delivered"]),
            _num(m["duplicates"]),
            f"{_num(m['list_calls'])} history.list",
            "-",
            "-",
            f"{m['wall_seconds']:.1f} s",
        ]
    )
    return _table(
        [
            "source",
            "accounts",
            "notifications",
            "new items",
            "pushed",
            "duplicates",
            "list calls",
            "webhook errors",
            "reconciles needed",
            "wall time (median)",
        ],
        rows,
    )


def _calendar_size(results: dict[str, Any]) -> str:
    size = results.get("calendar_size")
    if not size:
        return "Not measured in this run."
    rows = []
    for name, label in (("initial", "initial sync (follow)"), ("resync", "410 full resync")):
        row = size[name]
        rows.append(
            [
                label,
                f"{row['seconds']:.1f} s",
                str(row.get("google_list_pages", 0)),
                str(row.get("reads", 0)),
                str(row.get("writes", 0)),
                str(row.get("deletes", 0)),
                str(row.get("transactions", 0)),
                str(row.get("max_writes_per_commit", 0)),
            ]
        )
    largest = size["largest_documents"]
    table = _table(
        [
            "pass",
            "time",
            "events.list pages",
            "reads",
            "writes",
            "deletes",
            "transactions",
            "most writes in one commit",
        ],
        rows,
    )
    return (
        f"{table}\n\nEvents: {size['events']}; records stored: {size['records_stored']}. "
        f"Resync items: {size['resync']['items']} (expected {size['resync']['items_expected']}). "
        f"Largest documents: cursor {largest['cursor_bytes']} B, one event record "
        f"{largest['record_bytes']} B (limit {largest['limit_bytes']} B per document); most "
        f"writes in one commit {size['max_writes_per_commit']} (limit "
        f"{size['limit_writes_per_commit']})."
    )


def _latency_row(latency: dict[str, Any]) -> str:
    cells = [str(latency["mails"])]
    cells += [_ms(latency[key]) for key in ("p50_seconds", "p95_seconds", "max_seconds")]
    return "| " + " | ".join(cells) + " |"


def _auth_check(results: dict[str, Any]) -> str:
    from bench.auth_check import markdown

    return markdown(results["auth_check"]) if "auth_check" in results else ""


def write(results: dict[str, Any], docs: Path) -> None:
    """Write both files."""
    # Other work on the machine skews absolute times (not counts); say how busy it was
    # (kept from the run that measured them when only the cold start was rerun).
    load = [round(x, 1) for x in os.getloadavg()]
    results["machine"].setdefault("load_average_1_5_15", load)
    (docs / "benchmarks.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    machine = results["machine"]
    latency = results["latency"]
    text = f"""# Benchmarks

Measured on the local stack (official Firestore and Pub/Sub emulators, Firebase Auth
emulator, the fake Google server, every function in its own functions-framework process).
Absolute numbers are those of emulators on one machine, not of Cloud Functions; what
carries over are the ratios and the counts. Benchmarks are never timed assertions in the
test suite; the correctness side of each figure (no loss, no duplicate) is asserted by the
end-to-end tests (`docs/reliability.md`).

- Command: `{results["command"]}` (duration {results["duration_seconds"]:.0f} s)
- Date: {results["date"]}
- Machine: {machine["cpus"]} CPUs, {machine["memory"]}, Python {machine["python"]},
  {machine["platform"]}; load average at the end {machine["load_average_1_5_15"]} (1/5/15 min)
- Runs: each figure is the median of {results["runs"]} runs unless said otherwise; the raw
  samples are in `docs/benchmarks.json`.

## Cold start

Process start (`python -m functions_framework --source=main.py --target=…`, the same
command as the stack) → first accepted answer to a request that touches Firestore, polled
every 10 ms. Two baselines are started the same way in the same run, interleaved (each
function, then its floor; hello once per round):

- **hello world** (`bench/hello/main.py`): a bare functions-framework function.
- **its floor** (`bench/floor/main.py`): a process that imports exactly the libraries the
  function has imported once it answered its first request, and nothing of ours, then
  answers its own first request (GET /, or a CloudEvent for an event function) by building
  a Firestore client and reading one document. The library list is taken, not written: the
  function is started once under `python -X importtime` (the flag reaches the server's
  worker), its probe is sent, and every module outside the standard library and our
  packages (`main`, `shared`, `functions`) whose importer is not itself a library is kept
  (`bench.cold_start.library_census`); importing those imports every library module the
  function loaded, so the list cannot drift from the code. The floor's request is one
  Firestore read because every probe below makes at least one: the floor pays the same
  gRPC channel set-up and first RPC. What a function's first request does beyond that
  (verify an ID token, open the sealed tokens and call the fake Google for
  `calendar_api`) is counted on the function's side, so "ratio to its floor" is our own
  import work plus our first request's extra work. The floor builds no pydantic model:
  the first model an instance builds (our settings) pays pydantic's first-use work, also on
  the function's side.

Two measures of each start: **wall** time, what a caller waits, and the **CPU** seconds
(user + system, from `/proc`) the server process and its worker used until the answer.
Imports are CPU bound, and on this shared 2-core machine other work stretches wall time
by whatever else runs at that moment (the load average is given); CPU time is the steadier
measure of the work a start does, and what a cold start costs on a dedicated vCPU. The
target (at most 1.1x the floor) is judged on CPU time; wall ratios are shown beside it.

{_cold_source(results)}

{_cold(results)}

{_cold_verdict(results)}

{_floors(results)}

### What each function imports

`python -X importtime -c "import main; main.<target>"` with the function's environment:
the import of its module at instance start (adapters are built lazily on first use, so
the first request imports a little more). "Watched libraries" shows which of the heavy
client libraries are loaded at import time.

{_imports(results)}

## Cost per notification

One notification with one new item, for a user with one phone; the receiver and push
dispatch code run in the benchmark process (their functions-framework apps) against the
emulators, with a counting wrapper around our Firestore client's RPC layer (reads =
documents asked for by BatchGet plus documents returned by queries, at least one per
query; writes and deletes = the writes of each Commit) and around the job publisher.
Google and FCM calls come from the fake Google's call log (token refreshes excluded: the
access token is cached).

{_cost(results)}

The minimum each flow needs, reasoned:

- **Gmail**: Google: `history.list` from the stored historyId (1) + `messages.get` of the
  new message's metadata (1) = 2. Firestore reads: the address → user route (1), the
  user's Google tokens (1), the cursor (1); dispatch: the feed item (1) and the user's
  devices (1) = 5. Writes: the feed item (1), the new cursor (1), the per-device send
  record that makes the push exactly-once (1) = 3. Deletes 0. One push job published, one
  FCM send.
- **Drive**: Google: `changes.list` from the stored page token (1). Firestore reads: the
  channel (1), the tokens (1), the cursor (1), the item (1), the devices (1) = 5; writes 3;
  one publish, one FCM send.
- **Calendar**: Google: `events.list` with the stored sync token (1); Firestore as for Drive,
  plus the event's record (read 1, write 1: what tells a change from a repeat, a
  restore from a creation, and gives a deletion its title) = 6 reads, 4 writes.

Issue 17 asks for at most 1.3x the minimum reads and writes. {_cost_verdict(results)}
`last_operations` in `docs/benchmarks.json` lists each flow's operations by collection.
What issue 17 changed, and what is left over the minimum:

- **The lease** (burst coalescing) and **the outbox** (a crash between commit and publish
  loses nothing) live on the cursor document. Taking the lease is one write conditional on
  the cursor document being unchanged since it was read, and it starts the pass (dirty
  flag cleared, `last_notified_at` recorded; the cursor and any jobs a crashed run left
  come back with the read). The commit of the last chunk writes the feed items with
  `create` and the cursor, with its jobs in the cursor's `outbox` map, as one batch
  conditional on the cursor document's version after the lease write: no read, and any
  concurrent write (a notification marking it dirty, a takeover, an item stored before)
  fails the whole batch, which then runs as the transaction that reads and decides. After
  the publish, one write, conditional on the commit's version, releases the lease and
  forgets the published jobs (a transaction when the source turned dirty meanwhile: the
  next pass starts under the same lease). Before: a lease document taken, read and
  deleted, three round trips to start a pass, a transaction to finish it, an outbox
  query per run and one outbox document written and deleted per job.
  Left over the minimum: 2 writes (taking the lease, ending the pass). A lease must be
  written before Google is read and the cursor after, and the outbox must be cleared after
  the publish, so no design with both guarantees writes less.
- **The credentials**: the tokens document also stores the granted scopes, so a
  notification reads that one document (the user document only when the tokens are gone,
  to tell "not linked" from "re-link"), once per sync pass however many Google calls the
  pass makes (Gmail makes two).
- **Push dispatch** reads the preferences (the user document, 1 read over the minimum)
  and writes one claim per device: created `sent` just before the chunk's send request, in
  the one write that claims the device and records the send (before: three, `claimed`,
  `sending`, `sent`). Only an answer other than success corrects it. What this gave up: a
  claim whose sender died before its request is no longer taken over after a lease; the
  claims are now written per chunk just before the request, so that window is the one the
  old `sending` mark already had (a lost push, never a doubled one), and a redelivery no
  longer tells a crashed send from a completed one (both read `sent`; the crash is in the
  platform's logs).
- **Calendar**: the "by me" mark of a change made through our Calendar API is a field of
  the event's record, which the pass reads anyway (before: a separate `own_changes`
  document read per notification, 8 reads).

So a flow writes 5 times (lease, item, cursor, end of pass, claim), Calendar 6 with the
event's record: 1.67x (1.5x) the issue's minimum, which has no lease and no outbox. The
1.3x target for writes is out of reach while burst coalescing and the outbox are kept.
What it would take: dispatching on the feed item's creation (a Firestore
`document.v1.created` trigger through Eventarc, delivered at least once after the commit)
instead of our publish would remove the outbox and the write that ends the pass (4 writes,
1.33x; the local stack would also have to deliver those events to the functions, which it
does not do today); the last write over the minimum is the lease, the price of burst
coalescing (without it every concurrent notification reads Google).

## Bursts

N copies of a notification, sent concurrently, for one account with k = 5 new items that
arrived without a notification (Gmail: the fake's `/notify` with `copies`; Drive: 20
senders posting channel notifications; "webhook errors" are notifications the webhook
answered with an error or not within the fake's 5 s; "reconciles needed" counts the
scheduler ticks it took to deliver items whose pass failed; Drive bursts run
{results["drive_runs"]} time(s) per size). "Pushed" counts distinct feed items
that reached the fake FCM for the account's phone, "duplicates" any item pushed twice.
Wall time runs from the first notification until every notification was handled and
every item pushed.

{_bursts(results)}

## A large calendar

`bench/calendar_size.py`: a calendar of many events (seeded in the fake) is followed
(`start_calendar`: full listing, one record document per event written in batches of 500,
then the cursor), then 50 events are changed, 50 deleted and 50 added
while pushes are dropped, the sync token is expired, and one sync pass runs the 410 full
resync (every record read by one query, compared with the full listing). Both run in the
benchmark process with Firestore counted as above.

{_calendar_size(results)}

## End-to-end latency

From "mail delivered to the fake Gmail" (before the control call) to "FCM send recorded
by the fake FCM" (its own timestamp), one mail at a time, over {latency["mails"]} mails:
fake Gmail → Pub/Sub emulator push → `gmail_receiver` (history.list, messages.get, commit,
publish) → Pub/Sub emulator push → `push_dispatch` → fake FCM.

| mails | p50 | p95 | max |
|---|---|---|---|
{_latency_row(latency)}

{_auth_check(results)}
"""
    (docs / "benchmarks.md").write_text(text)
