"""The cost table of ``docs/benchmarks.md``: Firestore operations per notification after
(this run) and before (``bench/cost_before.json``), next to the minimum, and their list
price per 1,000 notifications."""

from __future__ import annotations

from typing import Any

# Firestore Standard edition list prices in USD per 100,000 document operations, regional
# us-central1 (https://cloud.google.com/firestore/pricing, "Pricing by location"); the
# multi-region nam5 costs twice as much.
PRICE_PER_100K: dict[str, float] = {"reads": 0.03, "writes": 0.09, "deletes": 0.01}
PRICED_AT = "Firestore Standard edition, regional us-central1"

_KEYS = ("reads", "writes", "deletes", "google_calls", "publishes", "fcm_calls")


def per_thousand(measured: dict[str, float]) -> float:
    """USD for 1,000 notifications costing ``measured`` Firestore operations each."""
    return sum(
        measured.get(key, 0) * 1000 * price / 100_000 for key, price in PRICE_PER_100K.items()
    )


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


TARGET_RATIO = 1.3  # issue 17: reads and writes at most 1.3x the reasoned minimum


def verdict(results: dict[str, Any]) -> str:
    """One sentence per measure: which flows are within ``TARGET_RATIO`` of the minimum."""
    sentences = []
    for key in ("reads", "writes"):
        parts, over = [], 0
        for flow, row in results["cost"].items():
            ratio = row["ratio"][key]
            parts.append(f"{flow} {_num(row['measured'][key])} = {ratio:.2f}x")
            over += ratio > TARGET_RATIO
        state = "all within" if not over else f"{over} of {len(parts)} over"
        sentences.append(f"{key.capitalize()}: {', '.join(parts)} ({state} {TARGET_RATIO}x).")
    return " ".join(sentences)


def markdown(results: dict[str, Any]) -> str:
    """The operations table, the price table and where both come from."""
    run = results.get("cost_run") or {}
    before: dict[str, dict[str, float]] = (run.get("before") or {}).get("cost", {})
    rows, prices = [], []
    for flow, row in results["cost"].items():
        then = before.get(flow, {})
        for key in _KEYS:
            ratio = row["ratio"][key]
            rows.append(
                [
                    flow,
                    key.replace("_", " "),
                    _num(then.get(key)),
                    _num(row["measured"][key]),
                    _num(row["minimum"][key]),
                    "-" if ratio is None else f"{ratio:.2f}x",
                ]
            )
        prices.append(
            [
                flow,
                f"${per_thousand(then):.4f}" if then else "-",
                f"${per_thousand(row['measured']):.4f}",
                f"${per_thousand(row['minimum']):.4f}",
            ]
        )
    operations = _table(
        ["flow", "per notification", "before", "after (median)", "minimum", "ratio after"], rows
    )
    price = _table(
        [
            "flow",
            "list-price cost per 1,000 notifications, before",
            "after",
            "at the minimum",
        ],
        prices,
    )
    unit = ", ".join(f"{key} ${price:.2f}" for key, price in PRICE_PER_100K.items())
    source = ""
    if run:
        source = f"After: `{run['command']}` at commit {run.get('commit') or '?'}, {run['date']}"
        if before:
            source += (
                f"; before: `{run['before']['command']}` at commit "
                f"{run['before'].get('commit') or '?'}, {run['before']['date']}"
            )
        source += ".\n\n"
    return (
        f"{source}{operations}\n\nList price ({PRICED_AT}, per 100,000 operations: {unit}; "
        f"nam5 is twice as much; storage, network and the free tier left out):\n\n{price}"
    )
