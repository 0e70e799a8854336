"""Counting wrappers around our own clients, for the cost benchmark.

Firestore is counted at the GAPIC layer every call of ``google.cloud.firestore`` goes
through (``Client._firestore_api``): documents asked for by ``BatchGetDocuments`` and
returned by ``RunQuery`` (a query returning nothing still bills one read) are reads; each
``Commit`` write is a write or, for a delete, a delete. Pub/Sub publishes are counted on the
container's job publisher. Google and FCM calls come from the fake Google's call log.
Each operation is also counted under ``"<kind> <collection path>"`` (ids replaced by ``*``,
e.g. ``"read users/*/cursors"``), which says where the operations go.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from shared.activity import PushJob


def _collection(name: str) -> str:
    """``projects/p/databases/d/documents/users/u1/cursors/gmail`` → ``users/*/cursors``."""
    parts = name.split("/documents/", 1)[-1].split("/")
    return "/".join(part if index % 2 == 0 else "*" for index, part in enumerate(parts[:-1]))


class CountingFirestoreApi:
    """Delegates to the real GAPIC Firestore client and counts billed operations."""

    def __init__(self, real: Any, counts: Counter[str]) -> None:
        self._real = real
        self._counts = counts

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def batch_get_documents(self, request: Any = None, **kwargs: Any) -> Iterator[Any]:
        """Point reads: one read per document asked for."""
        self._counts["reads"] += len(request["documents"])
        self._counts["rpcs"] += 1
        for name in request["documents"]:
            self._counts[f"read {_collection(name)}"] += 1
        return self._real.batch_get_documents(request=request, **kwargs)

    def run_query(self, request: Any = None, **kwargs: Any) -> Iterator[Any]:
        """Queries: one read per document returned, at least one per query."""
        self._counts["rpcs"] += 1
        returned = 0
        for response in self._real.run_query(request=request, **kwargs):
            if response.document and response.document.name:
                returned += 1
            yield response
        self._counts["reads"] += max(1, returned)
        parent = request["parent"].split("/documents", 1)[-1].strip("/")
        target = "/".join(
            [*([_collection(parent + "/x")] if parent else []), *_query_collections(request)]
        )
        self._counts[f"query {target}"] += max(1, returned)

    def commit(self, request: Any = None, **kwargs: Any) -> Any:
        """Writes and deletes of one commit (a batch or a transaction), counted once it
        succeeded: a commit refused for a failed precondition writes nothing."""
        self._counts["rpcs"] += 1
        response = self._real.commit(request=request, **kwargs)
        for write in request["writes"]:
            message = type(write).pb(write)
            kind = message.WhichOneof("operation")
            self._counts["deletes" if kind == "delete" else "writes"] += 1
            name = message.delete if kind == "delete" else getattr(message, kind).name
            label = "delete" if kind == "delete" else "write"
            self._counts[f"{label} {_collection(name)}"] += 1
        return response

    def begin_transaction(self, request: Any = None, **kwargs: Any) -> Any:
        """Transactions are free but cost a round trip."""
        self._counts["rpcs"] += 1
        self._counts["transactions"] += 1
        return self._real.begin_transaction(request=request, **kwargs)

    def rollback(self, request: Any = None, **kwargs: Any) -> Any:
        """A transaction given up (e.g. nothing to write)."""
        self._counts["rpcs"] += 1
        return self._real.rollback(request=request, **kwargs)


def _query_collections(request: Any) -> list[str]:
    """The collection ids a ``RunQuery`` request selects from."""
    query = request.get("structured_query")
    return [selector.collection_id for selector in query.from_] if query is not None else []


def count_firestore(client: Any, counts: Counter[str]) -> None:
    """Route every RPC of ``client`` (a ``firestore.Client``) through the counter."""
    real = client._firestore_api  # builds the GAPIC client and its channel once
    client._firestore_api_internal = CountingFirestoreApi(real, counts)


class CountingPublisher:
    """The real job publisher, counting the jobs it publishes."""

    def __init__(self, real: Any, counts: Counter[str]) -> None:
        self._real = real
        self._counts = counts

    def publish(self, jobs: list[PushJob]) -> None:
        """Publish through the real publisher; count each job."""
        self._counts["publishes"] += len(jobs)
        self._real.publish(jobs)
