"""Watch maintenance (Cloud Scheduler → Pub/Sub, private): renew channels and watches,
stop channels of unlinked users, and reconcile accounts whose pushes never came."""

from __future__ import annotations

from datetime import UTC, datetime

import functions_framework
from cloudevents.http import CloudEvent

from shared.bootstrap import container
from shared.logs import execution_scope, get_logger
from shared.pubsub_message import json_payload, typed
from shared.services.sync import SourceKind

_app = container()
log = get_logger(__name__)

TASKS = ("renew", "reconcile")


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
            counts["expired_links_revoked"] = _app.linking.revoke_expired(now)
        else:
            runners = {kind: _app.sync_runner(kind) for kind in SourceKind}
            counts = _app.watch_service.reconcile(now, runners)
        log.info("maintenance done", extra={"task": task, **counts})
