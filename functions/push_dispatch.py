"""Push dispatch (Pub/Sub ``push-jobs`` via Eventarc, private): one job to the user's devices."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import functions_framework
from cloudevents.http import CloudEvent
from pydantic import ValidationError

from shared.activity import PushJob
from shared.bootstrap import container
from shared.http import json_framework_errors
from shared.logs import execution_scope, get_logger, trace_scope
from shared.pubsub_message import payload, typed
from shared.services.push import RetryLater

_app = container("event")
# A POST that is no CloudEvent is answered in JSON, never echoing its headers or body.
json_framework_errors()
log = get_logger(__name__)


def parse(data: Any) -> PushJob | None:
    """The push job in the Pub/Sub message, or None when malformed."""
    raw = payload(data)
    if raw is None:
        return None
    try:
        return PushJob.model_validate_json(raw)
    except ValidationError:
        return None  # its ids are checked against Firestore's document id rules by the model


@functions_framework.cloud_event
def push_dispatch(event: CloudEvent) -> None:
    """Send the job once per device; raise (Pub/Sub redelivers) only for devices to retry."""
    with execution_scope(str(event.get("id") or "")):
        job = typed(event.data, parse)
        if job is None:
            # Acknowledged: a poison message must not come back forever.
            log.warning("malformed push job acknowledged")
            return
        # Logged under the trace of the notification that caused the job.
        with trace_scope(job.trace_id):
            try:
                _app.push.dispatch(job, datetime.now(UTC))
            except RetryLater as retry:
                log.warning("push job to be redelivered", extra={"job_id": job.job_id})
                raise RetryLater(str(retry)) from None
