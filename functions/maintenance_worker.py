"""Maintenance worker (``maintenance-work`` topic, private): one bounded batch per
invocation — upkeep of claimed sources (``work``), continuation of syncs left dirty
(``sync``), or a batch of stale-device pruning (``prune``). See
``shared/services/maintenance.py``."""

from __future__ import annotations

from datetime import UTC, datetime

import functions_framework
from cloudevents.http import CloudEvent

from shared.bootstrap import container
from shared.http import json_framework_errors
from shared.logs import execution_scope, get_logger
from shared.ports.sync import SyncKey
from shared.pubsub_message import json_payload, typed
from shared.services.maintenance import decode_sources

_app = container("event")
# A POST that is no CloudEvent is answered in JSON, never echoing its headers or body.
json_framework_errors()
log = get_logger(__name__)


def parse(data: object) -> tuple[str, str, list[SyncKey]] | None:
    """(task, cycle, sources) of a work message, or None when malformed."""
    body = json_payload(data)
    if not isinstance(body, dict):
        return None
    task = body.get("task")
    if task == "prune":
        return "prune", "", []
    sources = decode_sources(body.get("sources"))
    if sources is None:
        return None
    if task == "sync":
        return "sync", "", sources
    cycle = body.get("cycle")
    if task == "work" and isinstance(cycle, str) and 0 < len(cycle) <= 64:
        return "work", cycle, sources
    return None


@functions_framework.cloud_event
def maintenance_worker(event: CloudEvent) -> None:
    """Do one batch; an unexpected failure is retried by Pub/Sub (redone work is skipped)."""
    event_id = str(event.get("id") or "")
    with execution_scope(event_id):
        parsed = typed(event.data, parse)
        if parsed is None or not event_id:
            log.warning("malformed maintenance work acknowledged")
            return
        task, cycle, sources = parsed
        now = datetime.now(UTC)
        if task == "prune":
            counts = _app.maintenance.prune(now)
        elif task == "sync":
            counts = _app.maintenance.follow_up(sources, event_id)
        else:
            counts = _app.maintenance.work(sources, cycle, now, event_id)
        log.info("maintenance work done", extra={"task": task, "sources": len(sources), **counts})
