"""Property-based fuzzing of the whole mobile API from its OpenAPI document (schemathesis).

Every generated request goes to the running function that serves its path, once with a
linked user's Firebase ID token and once without: no 5xx, and every answer conforms to the
document (status, content type, body schema, headers).
"""

from __future__ import annotations

from typing import Any

import pytest

from functions.api_document import CALENDAR_OPERATIONS, mobile_api_document
from tests.e2e.conftest import LinkedUser, RunningStack, link_user

schemathesis = pytest.importorskip(
    "schemathesis", reason="schemathesis is not installed (dev dependency `schemathesis>=4.1,<5`)"
)
from hypothesis import HealthCheck, settings  # noqa: E402 - after the importorskip
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
)
CALENDAR_PATHS = {op.path for op in CALENDAR_OPERATIONS if op.path != "/openapi.json"}

schema = schemathesis.openapi.from_dict(mobile_api_document())


@pytest.fixture
def fuzz_user(stack: RunningStack) -> LinkedUser:
    return link_user(stack, "fuzz.user@gmail.example")


def _base(stack: RunningStack, path: str) -> str:
    target = "calendar_api" if path in CALENDAR_PATHS else "account_api"
    return stack.function_url(target)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    # The same examples every run: the suite must not flake; widen by raising max_examples.
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors_and_no_schema_violations(
    case: Any, stack: RunningStack, fuzz_user: LinkedUser
) -> None:
    base = _base(stack, case.path)
    token = {"Authorization": f"Bearer {fuzz_user.auth.id_token}"}
    for headers in (token, {}):
        response = case.call(base_url=base, headers=headers, timeout=30)
        case.validate_response(response, checks=list(CHECKS))
