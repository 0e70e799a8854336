"""What the local stack runs: every function of ``functions/manifest.json`` with its
trigger, as deployed in production."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

MANIFEST = Path(__file__).resolve().parent.parent / "functions" / "manifest.json"


@dataclass(frozen=True)
class FunctionSpec:
    """One deployed function: its entry point, signature type and (for events) its topic."""

    target: str
    signature: Literal["http", "cloudevent"]
    topic: str | None = None


def _spec(name: str, entry: dict[str, Any]) -> FunctionSpec:
    signature: Literal["http", "cloudevent"] = (
        "http" if entry["trigger"] == "http" else "cloudevent"
    )
    return FunctionSpec(name, signature, entry["topic"])


FUNCTIONS: tuple[FunctionSpec, ...] = tuple(
    _spec(name, entry) for name, entry in json.loads(MANIFEST.read_text())["functions"].items()
)

# Topics functions publish to (push jobs) and topics that trigger functions.
TOPICS: tuple[str, ...] = tuple(
    dict.fromkeys(["push-jobs", *(spec.topic for spec in FUNCTIONS if spec.topic)])
)
