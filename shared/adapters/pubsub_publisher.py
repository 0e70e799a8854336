"""Publishes push jobs to Pub/Sub (honours PUBSUB_EMULATOR_HOST like every Google client)."""

from __future__ import annotations

import threading
from typing import Any

from shared.activity import PushJob

_PUBLISH_TIMEOUT_SECONDS = 20


class PubSubJobPublisher:
    """The ``JobPublisher`` port over google-cloud-pubsub; the client is built on first use."""

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

    def publish(self, jobs: list[PushJob]) -> None:
        """Publish every job and wait until Pub/Sub has them all (raises otherwise)."""
        client = self._publisher()
        topic = client.topic_path(self._project_id, self._topic)
        futures = [
            client.publish(topic, job.model_dump_json().encode(), job_id=job.job_id) for job in jobs
        ]
        for future in futures:
            future.result(timeout=_PUBLISH_TIMEOUT_SECONDS)
