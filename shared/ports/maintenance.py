"""Ports of fleet maintenance: the index of sources due for upkeep, and the work topic.

A tick pages through what is due, claims it, and publishes it as bounded batches; workers
take one batch per invocation (``shared/services/maintenance.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared.ports.sync import SyncKey


@dataclass(frozen=True)
class DueSource:
    """A source whose ``due_at`` has come; ``token`` is what ``claim`` needs (opaque)."""

    key: SyncKey
    token: Any


class DueIndex(Protocol):
    """Port: the cursor documents ordered by ``due_at``."""

    def due(self, now: datetime, limit: int, after: DueSource | None) -> list[DueSource]:
        """Up to ``limit`` sources due at ``now``, oldest due first, after ``after``."""
        ...

    def claim(self, items: list[DueSource], cycle: str, until: datetime) -> list[SyncKey]:
        """Move each item's ``due_at`` to ``until`` and mark it claimed by ``cycle``, each
        only if the document did not change since it was read (a concurrent tick claimed
        it first, or a sync wrote it: it stays for a later tick). The keys claimed."""
        ...


class WorkQueue(Protocol):
    """Port: publishes JSON messages to the maintenance work topic (or the tick topic)."""

    def publish(self, bodies: list[dict[str, Any]]) -> None: ...
