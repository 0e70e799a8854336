"""Publishes to Pub/Sub (honours PUBSUB_EMULATOR_HOST like every Google client): push jobs,
and JSON messages of the maintenance topics."""

from __future__ import annotations

import json
import threading
from typing import Any

from shared.activity import PushJob

_PUBLISH_TIMEOUT_SECONDS = 20


class PubSubTopic:
    """One topic over google-cloud-pubsub; the client is built on first use."""

    def __init__(self, project_id: str, topic: str) -> None:
        self._project_id = project_id
        self._topic = topic
        self._client: Any = None
        self._lock = threading.Lock()

    def _publisher(self) -> Any:
        with self._lock:
            if self._client is None:
                from google.cloud.pubsub_v1 import PublisherClient

                self._client = PublisherClient()
            return self._client

    def send(self, messages: list[tuple[bytes, dict[str, str]]]) -> None:
        """Publish every (data, attributes) and wait until Pub/Sub has them all (raises
        otherwise)."""
        client = self._publisher()
        topic = client.topic_path(self._project_id, self._topic)
        futures = [client.publish(topic, data, **attributes) for data, attributes in messages]
        for future in futures:
            future.result(timeout=_PUBLISH_TIMEOUT_SECONDS)


class PubSubJobPublisher(PubSubTopic):
    """The ``JobPublisher`` port."""

    def publish(self, jobs: list[PushJob]) -> None:
        """Publish every job (attribute ``job_id``)."""
        self.send([(job.model_dump_json().encode(), {"job_id": job.job_id}) for job in jobs])


class PubSubMessagePublisher(PubSubTopic):
    """The ``WorkQueue`` port: one message per JSON body (attribute ``task``)."""

    def publish(self, bodies: list[dict[str, Any]]) -> None:
        """Publish every body."""
        self.send([(json.dumps(body).encode(), {"task": str(body["task"])}) for body in bodies])
