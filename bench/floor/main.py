"""The floor of a function's cold start: the third-party libraries it imports, and nothing
of ours.

``FLOOR_IMPORTS`` (comma-separated module names, in the order the function imported them)
comes from ``bench.cold_start.library_census``. The process is started like the function
(``python -m functions_framework --source=main.py --target=floor_http|floor_event``) and
its first request reads one Firestore document with a client built on that request, as
each function's probe does, so the floor pays the same gRPC channel set-up and first RPC.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import flask
import functions_framework

for _name in filter(None, os.environ.get("FLOOR_IMPORTS", "").split(",")):
    importlib.import_module(_name)


def _touch_firestore() -> None:
    from google.cloud import firestore

    client = firestore.Client(project=os.environ["GOOGLE_CLOUD_PROJECT"])
    client.collection("bench-floor").document("probe").get()


@functions_framework.http
def floor_http(request: flask.Request) -> str:
    """An HTTP function's floor: one Firestore read."""
    _touch_firestore()
    return "floor"


@functions_framework.cloud_event
def floor_event(event: Any) -> None:
    """An event function's floor: one Firestore read."""
    _touch_firestore()
