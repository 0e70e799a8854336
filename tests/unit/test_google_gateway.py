"""The gateway's 401 policy: one forced refresh, then re-link; never more."""

from __future__ import annotations

from typing import Any

import pytest

from shared.adapters.google_gateway import GoogleGateway
from shared.errors import AppError, ErrorCode
from shared.google_errors import GoogleFailure, RetryPolicy
from shared.scopes import Feature
from shared.settings import Settings


class Token:
    def __init__(self, value: str) -> None:
        self.token = value


class FakeCredentials:
    """Hands out numbered tokens; counts refreshes and re-link marks."""

    def __init__(self) -> None:
        self.refreshes = 0
        self.relinked: list[str] = []

    def for_user(self, uid: str, feature: Feature | None = None, *, force_refresh: bool = False):
        if force_refresh:
            self.refreshes += 1
        return Token(f"token-{self.refreshes}")

    def mark_relink_required(self, uid: str) -> None:
        self.relinked.append(uid)


class FakeRequest:
    """What ``make(service)`` returns: answers per token from a script."""

    def __init__(self, answers: dict[str, Any], seen: list[str]) -> None:
        self.headers: dict[str, str] = {}
        self._answers = answers
        self._seen = seen

    def execute(self, http: Any) -> Any:
        token = http._token
        self._seen.append(token)
        answer = self._answers[token]
        if isinstance(answer, BaseException):
            raise answer
        return answer


def _gateway(credentials: FakeCredentials) -> GoogleGateway:
    settings = Settings(google_cloud_project="demo-test", production=False)
    gateway = GoogleGateway(settings, credentials, RetryPolicy(attempts=1))
    gateway._services[Feature.GMAIL] = object()
    return gateway


def test_a_refused_token_is_refreshed_once_and_the_call_repeated() -> None:
    credentials, seen = FakeCredentials(), list[str]()
    answers = {"token-0": GoogleFailure(401, "authError"), "token-1": {"ok": True}}
    result = _gateway(credentials).call("u1", Feature.GMAIL, lambda s: FakeRequest(answers, seen))
    assert result == {"ok": True} and seen == ["token-0", "token-1"]
    assert credentials.refreshes == 1 and credentials.relinked == []


def test_a_refused_fresh_token_marks_the_account_for_relink() -> None:
    credentials, seen = FakeCredentials(), list[str]()
    refused = GoogleFailure(401, "authError")
    answers = {"token-0": refused, "token-1": refused}
    with pytest.raises(AppError) as raised:
        _gateway(credentials).call("u1", Feature.GMAIL, lambda s: FakeRequest(answers, seen))
    assert raised.value.code is ErrorCode.GOOGLE_RELINK_REQUIRED
    assert seen == ["token-0", "token-1"] and credentials.relinked == ["u1"]


def test_other_failures_pass_through_without_refresh() -> None:
    credentials, seen = FakeCredentials(), list[str]()
    answers = {"token-0": GoogleFailure(404, "notFound")}
    with pytest.raises(GoogleFailure):
        _gateway(credentials).call("u1", Feature.GMAIL, lambda s: FakeRequest(answers, seen))
    assert credentials.refreshes == 0
