"""Watch maintenance (Cloud Scheduler → Pub/Sub, private): renew channels and watches,
stop channels of unlinked users, reconcile accounts whose pushes never came, and prune
devices not registered again for ``DEVICE_STALE_DAYS``."""

from __future__ import annotations

from datetime import UTC, datetime

import functions_framework
from cloudevents.http import CloudEvent

from shared.bootstrap import container
from shared.http import json_framework_errors
from shared.logs import execution_scope, get_logger
from shared.ports.sync import SourceKind
from shared.pubsub_message import json_payload, typed

_app = container("event")
# A POST that is no CloudEvent is answered in JSON, never echoing its headers or body.
json_framework_errors()
log = get_logger(__name__)

TASKS = ("renew", "reconcile", "prune")
# Devices deleted per prune tick: bounded work per invocation; the daily tick catches up.
PRUNE_BATCH = 500


def task_of(data: object) -> str | None:
    """The task named by the scheduler's message, or None when malformed."""
    body = json_payload(data)
    task = body.get("task") if isinstance(body, dict) else None
    return task if task in TASKS else None


@functions_framework.cloud_event
def watch_maintenance(event: CloudEvent) -> None:
    """Run one maintenance task; failures of single accounts are logged as alerts."""
    with execution_scope(str(event.get("id") or "")):
        task = typed(event.data, task_of)
        if task is None:
            log.warning("malformed maintenance message acknowledged")
            return
        now = datetime.now(UTC)
        if task == "renew":
            counts = _app.watch_service.renew_due(now)
            counts |= _app.watch_service.refresh_calendar_lists()
            counts["expired_links_revoked"] = _app.linking.revoke_expired(now)
        elif task == "prune":
            counts = {"pruned": _app.devices.prune_stale(now, PRUNE_BATCH)}
        else:
            runners = {kind: _app.sync_runner(kind) for kind in SourceKind}
            counts = _app.watch_service.reconcile(now, runners)
        log.info("maintenance done", extra={"task": task, **counts})
