"""Settings refuse dangerous combinations; logs are JSON for Cloud Logging and redacted."""

from __future__ import annotations

import json
import logging

import pytest
from pydantic import ValidationError

from shared.logs import JsonFormatter, execution_scope, redact
from shared.settings import Settings, SettingsError


def test_production_refuses_the_auth_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRODUCTION", "true")
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099")
    with pytest.raises(SettingsError, match="FIREBASE_AUTH_EMULATOR_HOST"):
        Settings.from_env()


def test_production_refuses_endpoint_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FIREBASE_AUTH_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PRODUCTION", "true")
    monkeypatch.setenv("GOOGLE_API_BASE_URL", "http://127.0.0.1:1")
    with pytest.raises(SettingsError, match="GOOGLE_API_BASE_URL"):
        Settings.from_env()


def test_local_settings_allow_emulators(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRODUCTION", raising=False)
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099")
    assert Settings.from_env().firebase_auth_emulator_host == "127.0.0.1:9099"


def test_settings_come_from_environment_variables_in_any_case() -> None:
    settings = Settings.from_env(
        {
            "PRODUCTION": "false",
            "Oauth_State_TTL_Seconds": "900",
            "FCM_TIMEOUT_SECONDS": "2.5",
            "TOKEN_ENCRYPTION_KEYS": '{"k": "x"}',
            "FIRESTORE_EMULATOR_HOST": "",
            "PATH": "/usr/bin",
        }
    )
    assert settings.production is False
    assert settings.oauth_state_ttl_seconds == 900
    assert settings.fcm_timeout_seconds == 2.5
    assert settings.token_encryption_keys.get_secret_value() == '{"k": "x"}'
    assert settings.firestore_emulator_host == ""
    assert settings.push_jobs_topic == "push-jobs"


def test_settings_out_of_range_refuse_to_start() -> None:
    with pytest.raises(ValidationError, match="oauth_state_ttl_seconds"):
        Settings.from_env({"OAUTH_STATE_TTL_SECONDS": "5"})
    with pytest.raises(ValidationError, match="production"):
        Settings.from_env({"PRODUCTION": "maybe"})


def test_explicit_settings_read_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "from-the-environment")
    assert Settings().google_cloud_project == "demo-uplus"
    assert Settings.from_env().google_cloud_project == "from-the-environment"
    with pytest.raises(ValidationError, match="no_such_setting"):
        Settings(no_such_setting=1)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "text",
    [
        "mail from kim.minji@example.co.kr arrived",
        "GET /calendar/v3/calendars/kim.minji%40example.co.kr/events",
        "Authorization: Bearer abc.def-ghi",
        "token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
        "access ya29.a0AfH6SMBx",
        "refresh 1//0gLrX",
    ],
)
def test_redaction_masks_personal_data_and_tokens(text: str) -> None:
    masked = redact(text)
    for secret in ("kim.minji", "abc.def", "eyJzdWIi", "ya29.a0", "1//0g"):
        assert secret not in masked


def test_json_lines_carry_severity_and_execution_id() -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "user %s", ("a@b.io",), None)
    record.job_id = "job-1"
    with execution_scope("exec-42"):
        line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["severity"] == "WARNING"
    assert entry["message"] == "user [email]"
    assert entry["execution_id"] == "exec-42"
    assert entry["job_id"] == "job-1"
