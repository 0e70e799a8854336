"""Deployment entry: exposes every function of ``functions/manifest.json`` by name from one
source archive.

Entry points are imported on first access, so each function instance loads only its own
module (``functions/<name>.py``) and the libraries that module uses (cold start).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

MANIFEST = Path(__file__).resolve().parent / "functions" / "manifest.json"
ENTRY_POINTS: dict[str, str] = {
    name: f"functions.{name}" for name in json.loads(MANIFEST.read_text())["functions"]
}


def __getattr__(name: str) -> Any:
    module_name = ENTRY_POINTS.get(name)
    if module_name is None:
        raise AttributeError(name)
    return getattr(importlib.import_module(module_name), name)


def __dir__() -> list[str]:
    return sorted(ENTRY_POINTS)
