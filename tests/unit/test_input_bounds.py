"""Firestore document id rules, bounded instants and robust Pub/Sub decoding."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from shared import doc_ids
from shared.errors import AppError
from shared.instants import to_utc
from shared.pubsub_message import json_payload, typed

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "value", ["", ".", "..", "__x__", "__.*__", "a/b", "x" * 1501, "é" * 751, "\ud800", None, 5]
)
def test_ids_firestore_refuses_are_invalid(value: object) -> None:
    assert not doc_ids.is_valid(value)


@pytest.mark.parametrize("value", ["a", "...", "__x", "x__", "_x_", "x" * 1500, "é" * 750, "a:b"])
def test_ids_firestore_accepts_are_valid(value: str) -> None:
    assert doc_ids.is_valid(value)


def test_require_names_the_field() -> None:
    with pytest.raises(AppError) as raised:
        doc_ids.require("__x__", "device_id")
    assert raised.value.status == 400 and raised.value.field == "device_id"


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "1969-12-31T23:59:59+00:00",
        "2026-01-01T00:00:00",
    ],
)
def test_instants_out_of_range_or_naive_are_refused(value: str) -> None:
    with pytest.raises(ValueError):
        to_utc(datetime.fromisoformat(value))


def test_instants_are_normalised_to_utc() -> None:
    assert to_utc(datetime.fromisoformat("2026-01-01T09:00:00+09:00")) == datetime(
        2026, 1, 1, tzinfo=UTC
    )


def _message(raw: bytes) -> dict[str, object]:
    return {"message": {"data": base64.b64encode(raw).decode()}}


@pytest.mark.parametrize(
    "raw", [b"[" * 5000 + b"]" * 5000, b'"\\ud800"', b"\xff", b"{", b"", b"1e999999"]
)
def test_poison_json_is_none(raw: bytes) -> None:
    assert json_payload(_message(raw)) in (None, float("inf"))


def test_typed_turns_any_exception_into_none() -> None:
    def parser(data: object) -> int:
        raise RecursionError

    assert typed(_message(b"{}"), parser) is None
    assert typed(_message(json.dumps({"a": 1}).encode()), lambda d: json_payload(d)["a"]) == 1
