"""Audit of every log line the stack's functions wrote during this test run.

Runs last, so it sees the logs of every other end-to-end test: each line must be
structured JSON for Cloud Logging, and no line may hold a token or an email address.
"""

from __future__ import annotations

import json
import re

import pytest

from devstack.topology import FUNCTIONS
from tests.e2e.conftest import RunningStack

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.")
GOOGLE_TOKEN = re.compile(r"ya29\.|1//|v1\.local-1\.")


@pytest.mark.last
def test_function_logs_are_structured_and_hold_no_personal_data(stack: RunningStack) -> None:
    assert stack.seen.values, "the run handed out no tokens: nothing was audited"
    audited = 0
    for spec in FUNCTIONS:
        path = stack.workdir / "logs" / f"{spec.target}.log"
        for line in path.read_text().splitlines():
            for secret in stack.seen.values:
                assert secret not in line, f"{spec.target} logged a secret or address"
            assert not EMAIL.search(line), f"{spec.target} logged an email address: {line}"
            assert not JWT.search(line), f"{spec.target} logged a JWT: {line}"
            assert not GOOGLE_TOKEN.search(line), f"{spec.target} logged a Google token: {line}"
            if line.startswith("{"):
                entry = json.loads(line)
                assert {"severity", "message"} <= entry.keys()
                audited += 1
    assert audited > 0, "no structured log line was written: the audit proved nothing"
