"""Gmail receiver (Pub/Sub via Eventarc, private): Gmail ``users.watch`` notifications."""

from __future__ import annotations

from typing import Any

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


def parse(data: Any) -> tuple[str, int] | None:
    """(emailAddress, historyId) from the Pub/Sub message, or None when malformed."""
    body = json_payload(data)
    try:
        address, history_id = body["emailAddress"], int(body["historyId"])
    except (KeyError, TypeError, ValueError):
        return None
    if not isinstance(address, str) or not 3 <= len(address) <= 320:
        return None
    if not 0 < history_id < 2**63:  # Firestore stores 64-bit integers
        return None
    return address, history_id


@functions_framework.cloud_event
def gmail_receiver(event: CloudEvent) -> None:
    """Sync the mailbox from its stored historyId; ack stale, unknown and poison messages."""
    with execution_scope(str(event.get("id") or "")):
        parsed = typed(event.data, parse)
        if parsed is None:
            log.warning("malformed gmail notification acknowledged")
            return
        # The message id: a redelivery (its first handler died) takes that handler's lease over.
        delivery = str(event.get("id") or "") or None
        outcome = _app.notifications.gmail_notification(*parsed, delivery=delivery)
        log.info("gmail notification handled", extra={"result": outcome.value})
