"""Structured JSON logs for Cloud Logging, with personal data and secrets scrubbed.

Each record is one JSON line on stdout with ``severity``, ``message``, the execution id of
the request or event being handled, the trace it belongs to (``logging.googleapis.com/trace``
= ``projects/<project>/traces/<32 hex>``, which Cloud Logging uses to group one request's
lines across functions: https://cloud.google.com/logging/docs/structured-logging#special-payload-fields),
and any ``extra`` fields. Redaction is a last line of
defence: code must not log personal data in the first place, but if an email address,
bearer token or JWT reaches a message it is masked before it is written.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

_execution_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "execution_id", default=None
)
_trace_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace_id", default=None)
TRACE_FIELD = "logging.googleapis.com/trace"

_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[email]"),
    (re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer [token]"),
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"), "[jwt]"),
    (re.compile(r"\bya29\.[A-Za-z0-9._-]+"), "[token]"),
    (re.compile(r"\b1//[A-Za-z0-9._-]+"), "[token]"),
)
_SEVERITY = {"WARNING": "WARNING", "CRITICAL": "CRITICAL", "ERROR": "ERROR", "DEBUG": "DEBUG"}
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


def redact(text: str) -> str:
    """Mask email addresses, bearer tokens and JWTs in free text."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(item) for item in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(str(value))


class JsonFormatter(logging.Formatter):
    """Formats a record as one Cloud Logging structured-log JSON line.

    ``project_id`` names the project in the trace field; without it no trace is written.
    """

    def __init__(self, project_id: str | None = None) -> None:
        super().__init__()
        self.project_id = project_id

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": _SEVERITY.get(record.levelname, "INFO"),
            "message": redact(record.getMessage()),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        execution_id = _execution_id.get()
        if execution_id:
            entry["execution_id"] = execution_id
            entry["logging.googleapis.com/labels"] = {"execution_id": execution_id}
        trace_id = _trace_id.get()
        if trace_id and self.project_id:
            entry[TRACE_FIELD] = f"projects/{self.project_id}/traces/{trace_id}"
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = _redact_value(value)
        if record.exc_info and record.exc_info[0] is not None:
            # The exception type and frames help debugging; its text may hold user data.
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str = "INFO", project_id: str | None = None) -> None:
    """Route every logger to one JSON handler on stdout (idempotent); ``project_id`` names
    the project of the trace field."""
    root = logging.getLogger()
    formatters = [h.formatter for h in root.handlers if isinstance(h.formatter, JsonFormatter)]
    if formatters:
        for formatter in formatters:
            formatter.project_id = project_id or formatter.project_id
        root.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(project_id))
    root.handlers = [handler]
    root.setLevel(level)
    # Client libraries log request URLs and headers at DEBUG; keep them quiet.
    for noisy in ("urllib3", "google", "googleapiclient", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@contextmanager
def execution_scope(execution_id: str | None) -> Iterator[None]:
    """Tag every log line written inside the block with one execution id."""
    token = _execution_id.set(execution_id)
    try:
        yield
    finally:
        _execution_id.reset(token)


@contextmanager
def trace_scope(trace_id: str | None) -> Iterator[None]:
    """Tag every log line written inside the block with one trace (32 lowercase hex digits,
    validated by the caller: see ``shared.tracing``)."""
    token = _trace_id.set(trace_id)
    try:
        yield
    finally:
        _trace_id.reset(token)


def current_trace_id() -> str | None:
    """The trace id of the request or job being handled, if it has one."""
    return _trace_id.get()


def get_logger(name: str) -> logging.Logger:
    """A module logger; records go through the JSON handler once ``configure`` ran."""
    return logging.getLogger(name)
