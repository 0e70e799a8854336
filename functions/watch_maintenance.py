"""Watch maintenance tick (Cloud Scheduler → ``maintenance-ticks``, private): finds the
sources due for renewal, re-watch, repair or reconcile and publishes them in bounded
batches to ``maintenance-work`` (``shared/services/maintenance.py``); the daily ``prune``
starts the bounded pruning of stale devices. Each tick also revokes a bounded batch of
link completions no app redeemed in time."""

from __future__ import annotations

from datetime import UTC, datetime

import functions_framework
from cloudevents.http import CloudEvent

from shared.bootstrap import container
from shared.http import json_framework_errors
from shared.logs import execution_scope, get_logger
from shared.pubsub_message import json_payload, typed

_app = container("event")
# A POST that is no CloudEvent is answered in JSON, never echoing its headers or body.
json_framework_errors()
log = get_logger(__name__)

TASKS = ("tick", "prune")


def task_of(data: object) -> tuple[str, str | None] | None:
    """(task, cycle of a continued tick) of a tick message, or None when malformed."""
    body = json_payload(data)
    if not isinstance(body, dict) or body.get("task") not in TASKS:
        return None
    cycle = body.get("cycle")
    if cycle is not None and not (isinstance(cycle, str) and 0 < len(cycle) <= 64):
        return None
    return str(body["task"]), cycle


@functions_framework.cloud_event
def watch_maintenance(event: CloudEvent) -> None:
    """Run one tick; a failure (Firestore, Pub/Sub) is retried by Pub/Sub."""
    event_id = str(event.get("id") or "")
    with execution_scope(event_id):
        parsed = typed(event.data, task_of)
        if parsed is None or not event_id:
            log.warning("malformed maintenance message acknowledged")
            return
        task, cycle = parsed
        if task == "prune":
            _app.maintenance.start_prune()
            log.info("maintenance prune started")
            return
        now = datetime.now(UTC)
        # The message id names the cycle: a redelivered tick is the same cycle, two
        # scheduler ticks are two cycles whose claims exclude each other.
        counts = _app.maintenance.tick(now, cycle or event_id)
        # Link completions no app redeemed in time: revoked, a bounded batch per tick.
        counts["expired_links_revoked"] = _app.linking.revoke_expired(now)
        log.info("maintenance tick done", extra={"task": task, **counts})
