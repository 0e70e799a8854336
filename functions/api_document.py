"""The OpenAPI document of the mobile API, built from the route tables the functions'
routers are built from (``functions/account_routes.py``, ``functions/calendar_routes.py``:
each operation declared once with its method, path, auth, body, query, path patterns,
headers and errors; ``shared.http.Router`` dispatches and validates by them).
``tests/unit/test_openapi.py`` keeps the committed ``docs/openapi.json`` equal to the
document built here; regenerate it with
``python -m functions.api_document > docs/openapi.json``.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from functions.account_routes import ACCOUNT_OPERATIONS
from functions.calendar_routes import CALENDAR_OPERATIONS
from shared.openapi import build_document

DESCRIPTION = (
    "The U+ Groupware mobile API. Account routes are served by the account_api function, "
    "calendar routes by calendar_api; both serve this document at GET /openapi.json. Every "
    "route except /openapi.json needs a Firebase ID token. Errors are "
    '{"error": {"code", "message", "field"?, "retry_after"?}} with one status per code.'
)


@functools.cache
def mobile_api_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the account and calendar APIs."""
    calendar = [op for op in CALENDAR_OPERATIONS if op.path != "/openapi.json"]
    return build_document(
        ACCOUNT_OPERATIONS + calendar,
        title="U+ Groupware mobile API",
        version="1",
        description=DESCRIPTION,
    )


def render() -> str:
    """The document as committed in docs/openapi.json."""
    return json.dumps(mobile_api_document(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
