"""Cost of refusing revoked sessions: ``verify_id_token(check_revoked=True)`` against the
Firebase Auth emulator, compared with the signature-only check, in one process.

Each verification with the revocation check reads the user record (Auth
``accounts:lookup``); we count those calls at the HTTP layer and time both variants,
interleaved so machine load affects them alike. Standalone (needs only an Auth emulator):
``FIREBASE_AUTH_EMULATOR_HOST=host:port python -m bench.auth_check --project demo-uplus-bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import requests

from devstack.drivers.clients import AuthEmulator, SeenSecrets
from shared.auth import FirebaseAuthenticator


@contextmanager
def _counting_auth_calls(counts: Counter[str]) -> Iterator[None]:
    """Count HTTP requests to Firebase Auth by endpoint (``accounts:lookup``, ...)."""
    original = requests.Session.request

    def request(self: requests.Session, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if "identitytoolkit" in str(url):
            counts[str(url).rsplit("/", 1)[-1].split("?")[0]] += 1
        return original(self, method, url, *args, **kwargs)

    requests.Session.request = request  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        requests.Session.request = original  # type: ignore[method-assign]


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[int(len(ordered) * 0.95) - 1] * 1000,
    }


def measure(auth_host: str, project_id: str, samples: int = 200) -> dict[str, Any]:
    """Timings of both checks and the Auth calls per verification."""
    os.environ["FIREBASE_AUTH_EMULATOR_HOST"] = auth_host
    from firebase_admin import auth

    user = AuthEmulator(auth_host, project_id, SeenSecrets()).create_user()
    authenticator = FirebaseAuthenticator(project_id)
    app = authenticator._firebase_app()

    def signature_only() -> None:
        auth.verify_id_token(user.id_token, app=app, clock_skew_seconds=5)

    def with_revocation() -> None:
        authenticator.verify(user.id_token)

    variants: dict[str, Callable[[], None]] = {
        "signature_only": signature_only,
        "check_revoked": with_revocation,
    }
    for variant in variants.values():  # warm: certificates, connections
        variant()
    times: dict[str, list[float]] = {name: [] for name in variants}
    calls: dict[str, Counter[str]] = {name: Counter() for name in variants}
    for _ in range(samples):
        for name, variant in variants.items():
            with _counting_auth_calls(calls[name]):
                began = time.perf_counter()
                variant()
                times[name].append(time.perf_counter() - began)
    result: dict[str, Any] = {"samples": samples}
    for name in variants:
        result[name] = {
            **_percentiles(times[name]),
            "auth_calls_per_request": sum(calls[name].values()) / samples,
            "auth_calls": dict(calls[name]),
        }
    result["added_p50_ms"] = result["check_revoked"]["p50_ms"] - result["signature_only"]["p50_ms"]
    return result


def markdown(result: dict[str, Any]) -> str:
    """The section of ``docs/benchmarks.md``."""
    rows = [
        f"| {name.replace('_', ' ')} | {result[name]['p50_ms']:.1f} ms | "
        f"{result[name]['p95_ms']:.1f} ms | {result[name]['auth_calls_per_request']:.0f} |"
        for name in ("signature_only", "check_revoked")
    ]
    return "\n".join(
        [
            "## Revoked sessions check",
            "",
            "Every authenticated request verifies the Firebase ID token with",
            "`check_revoked=True` (deleted, disabled and revoked users get 401). Measured in one",
            f"process against the Auth emulator, {result['samples']} verifications per variant,",
            "interleaved; Auth calls counted at the HTTP layer.",
            "",
            "| verification | p50 | p95 | Auth calls per request |",
            "|---|---|---|---|",
            *rows,
            "",
            f"Added latency (p50): {result['added_p50_ms']:.1f} ms and one Auth `accounts:lookup`",
            "call per authenticated request (no cache: a revocation takes effect at once).",
            "Emulator tokens are unsigned, so the signature-only row leaves out the RS256 check",
            "(and certificate fetch) that production tokens add to both rows alike.",
        ]
    )


def main() -> None:
    """Standalone run against the Auth emulator named by FIREBASE_AUTH_EMULATOR_HOST."""
    parser = argparse.ArgumentParser(prog="python -m bench.auth_check")
    parser.add_argument("--project", default="demo-uplus-bench")
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    result = measure(os.environ["FIREBASE_AUTH_EMULATOR_HOST"], args.project, args.samples)
    print(json.dumps(result, indent=2))
    print(markdown(result))


if __name__ == "__main__":
    main()
