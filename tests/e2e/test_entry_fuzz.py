"""A fuzz harness over every entry point (hypothesis, derandomized: the same examples every
run): the HTTP routes of account_api and calendar_api, the channel headers of both
webhooks, and the Pub/Sub ``data`` bytes and attributes of the three event functions.

Asserted for every example: never a 5xx; a request rejected by our own checks (bad input,
no or bad token) writes nothing to Firestore and calls no Google API; an event function
acknowledges (2xx) whatever it is sent. The schemathesis run of the OpenAPI contract
(``test_api_fuzz.py``) generates schema-shaped requests; this one generates hostile ones.
Example counts are kept small enough for the whole file to cost about a minute on 2 cores.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from devstack.drivers.events import push
from devstack.drivers.linking import all_documents
from functions.api_document import ACCOUNT_OPERATIONS, CALENDAR_OPERATIONS
from shared.openapi import Operation
from tests.e2e.conftest import LinkedUser, RunningStack, link_user

HTTP_ROUNDS = 4  # examples per (HTTP route, query parameter)
WEBHOOK_EXAMPLES = 40
EVENT_EXAMPLES = 40  # per event function

# Codes our own checks answer before any write or Google call.
REJECTIONS = {
    "invalid_request",
    "unauthenticated",
    "method_not_allowed",
    "payload_too_large",
    "unsupported_media_type",
}

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    # No shrinking: each example costs real requests; a failure reports its first example.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)

# Text that may hold anything JSON can carry, lone surrogates included.
ANY_TEXT = st.text(max_size=40)
# Header values: Latin-1 without control characters or leading blanks (what HTTP carries).
PRINTABLE = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=60
).map(str.lstrip)
URL_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
SPECIAL = st.sampled_from(
    ["__x__", "__.*__", ".", "..", "a/b", "x" * 1600, "é" * 800, "primary", "0", "-1", ""]
)
NUMBERS = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["1e999", "-0", "99999999999999999999999"]),
)
# Mostly datetimes that overflow when converted to UTC, as they are the ones that crash.
DATES = st.sampled_from(
    [
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "9999-12-31T23:59:59-14:00",
        "2026-13-40T25:61:61Z",
        "2026-01-01T00:00:00",
        "1969-12-31T23:59:59Z",
    ]
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, ANY_TEXT, SPECIAL, DATES)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(ANY_TEXT, inner, max_size=4)
    ),
    max_leaves=12,
)


# Page tokens of the feed are base64 of JSON [created_at, item id]: forge them.
PAGE_TOKENS = st.one_of(
    st.tuples(st.one_of(DATES, SCALARS), st.one_of(SPECIAL, ANY_TEXT)).map(
        lambda position: base64.urlsafe_b64encode(json.dumps(list(position)).encode()).decode()
    ),
    st.binary(max_size=60).map(lambda raw: base64.urlsafe_b64encode(raw).decode()),
    URL_TEXT,
)
GENERIC_QUERY_VALUE = st.one_of(URL_TEXT, SPECIAL, DATES, NUMBERS.map(str))
TIME_VALUE = DATES
NUMBER_VALUE = st.one_of(NUMBERS.map(str), URL_TEXT)
VALID = {
    "since": "2026-01-01T00:00:00Z",
    "time_min": "2026-01-01T00:00:00Z",
    "time_max": "2026-12-31T00:00:00Z",
    "limit": "10",
    "page_size": "10",
    "category": "mail",
}
QUERY_VALUES: dict[str, st.SearchStrategy[str]] = {
    "since": TIME_VALUE,
    "time_min": TIME_VALUE,
    "time_max": TIME_VALUE,
    "updated_min": TIME_VALUE,
    "limit": NUMBER_VALUE,
    "page_size": NUMBER_VALUE,
    "max_attendees": NUMBER_VALUE,
    "page_token": PAGE_TOKENS,
}


def _fields(model: Any) -> list[str]:
    return list(model.model_fields) if model is not None else []


def _model_shaped(operation: Operation) -> st.SearchStrategy[Any]:
    """A dict with the body model's field names and hostile values."""
    names = _fields(operation.body) or ["x"]
    return st.dictionaries(st.sampled_from(names), JSON_VALUES, max_size=len(names))


# Erase and unlink take no input and would end the fuzz user's session or link for the rest
# of the run (test_sessions.py and test_linking.py cover them).
SKIPPED = {("GET", "/openapi.json"), ("DELETE", "/v1/me"), ("DELETE", "/v1/google")}
OPERATIONS = [op for op in ACCOUNT_OPERATIONS + CALENDAR_OPERATIONS if op.key not in SKIPPED]
CALENDAR_PATHS = {op.path for op in CALENDAR_OPERATIONS}
PARAM = re.compile(r"\{([a-z_]+)\}")


@st.composite
def http_requests(draw: st.DrawFn, operation: Operation, hostile: str) -> dict[str, Any]:
    """One hostile request to one route: path parameters, query, body, headers, token."""
    path = PARAM.sub(
        lambda _: quote(draw(st.one_of(URL_TEXT, SPECIAL)) or "x", safe=""), operation.path
    )
    # One hostile parameter among valid ones: a hostile value elsewhere would only mask
    # it behind an early 400.
    names = _fields(operation.query) or ["limit", "since", "page_token", "x"]
    query = {name: VALID[name] for name in names if name in VALID and draw(st.booleans())}
    query[hostile] = draw(QUERY_VALUES.get(hostile, GENERIC_QUERY_VALUE))
    body_kind = draw(st.sampled_from(["none", "model", "json", "bytes", "nested"]))
    body: bytes | None = {
        "none": lambda: None,
        "model": lambda: json.dumps(draw(_model_shaped(operation))).encode(),
        "json": lambda: json.dumps(draw(JSON_VALUES)).encode(),
        "bytes": lambda: draw(st.binary(max_size=200)),
        "nested": lambda: b"[" * 5000 + b"]" * 5000,
    }[body_kind]()
    method = draw(st.sampled_from([operation.method] * 9 + ["PATCH"]))
    headers = {"Content-Type": draw(st.sampled_from(["application/json", "text/plain"]))}
    if draw(st.booleans()):
        headers["If-Match"] = draw(PRINTABLE)
        headers["Idempotency-Key"] = draw(PRINTABLE)
    auth = draw(st.sampled_from(["user", "user", "user", "user", "none", "garbage"]))
    return {
        "function": "calendar_api" if operation.path in CALENDAR_PATHS else "account_api",
        "method": method,
        "url_path": f"{path}?{urlencode(query)}" if query else path,
        "body": body,
        "headers": headers,
        "auth": auth,
    }


def _encode(headers: dict[str, str]) -> dict[str, bytes]:
    return {key: value.encode("latin-1") for key, value in headers.items()}


class World:
    """The stack with one linked user, and the state a rejection must leave untouched."""

    def __init__(self, stack: RunningStack, user: LinkedUser) -> None:
        self.stack, self.user = stack, user
        self.rebase()

    def rebase(self) -> None:
        self.documents = dict(all_documents(self.stack.db))
        self.channel_ids = [
            path.split("/")[1] for path in self.documents if path.startswith("channels/")
        ]
        self.stack.google.reset_calls()

    def assert_untouched(self, what: Any) -> None:
        assert dict(all_documents(self.stack.db)) == self.documents, what
        assert self.stack.google.calls() == [], what


@pytest.fixture
def world(stack: RunningStack) -> World:
    return World(stack, link_user(stack, "fuzz.entry@gmail.example"))


@settings(FUZZ, max_examples=HTTP_ROUNDS)
@given(data=st.data())
def test_http_routes(world: World, data: st.DataObject) -> None:
    """Each example sends hostile requests to every route (one per query parameter), so
    each (route, parameter) gets ``HTTP_ROUNDS`` examples."""
    for operation in OPERATIONS:
        # Every query parameter gets its turn as the hostile one.
        for hostile in _fields(operation.query) or ["x"]:
            request = http_requests(operation, hostile)
            _send(world, data.draw(request, label=f"{operation.path} {hostile}"))


def _send(world: World, request: dict[str, Any]) -> None:
    headers = dict(request["headers"])
    if request["auth"] == "user":
        headers["Authorization"] = f"Bearer {world.user.auth.id_token}"
    elif request["auth"] == "garbage":
        headers["Authorization"] = "Bearer eyJhbGciOiJub25lIn0.e30."
    url = world.stack.function_url(request["function"]) + request["url_path"]
    response = requests.request(
        request["method"], url, data=request["body"], headers=_encode(headers), timeout=30
    )
    assert response.status_code < 500, (request, response.text)
    code = response.json()["error"]["code"] if response.status_code >= 400 else None
    if code in REJECTIONS and not _google_answered(response):
        world.assert_untouched((request, response.text))
    else:
        world.rebase()


def _google_answered(response: requests.Response) -> bool:
    """A 400 mapped from Google's own 400 (its call is expected; nothing was written)."""
    return response.json()["error"].get("field") is None and response.status_code == 400


@st.composite
def webhook_headers(draw: st.DrawFn) -> dict[str, str]:
    """Channel headers, each near-valid or hostile, some left out."""
    fields: dict[str, st.SearchStrategy[str]] = {
        "X-Goog-Channel-ID": st.one_of(
            SPECIAL, st.from_regex(r"[A-Za-z0-9_\-]{1,64}", fullmatch=True), PRINTABLE
        ),
        "X-Goog-Channel-Token": st.one_of(st.just("secret"), PRINTABLE),
        "X-Goog-Resource-ID": st.one_of(st.just("resource"), PRINTABLE),
        "X-Goog-Resource-State": st.one_of(
            st.sampled_from(["sync", "exists", "not_exists", "update", "change"]), PRINTABLE
        ),
        "X-Goog-Message-Number": st.one_of(NUMBERS.map(str), PRINTABLE),
        "X-Goog-Channel-Expiration": st.one_of(DATES, PRINTABLE),
        "X-Goog-Resource-URI": PRINTABLE,
        "X-Goog-Changed": PRINTABLE,
    }
    dropped = draw(st.sets(st.sampled_from(list(fields)), max_size=3))
    headers = {name: draw(value) for name, value in fields.items() if name not in dropped}
    return {name: value for name, value in headers.items() if value}


@settings(FUZZ, max_examples=WEBHOOK_EXAMPLES)
@given(
    webhook=st.sampled_from(["calendar_webhook", "drive_webhook"]),
    headers=webhook_headers(),
    real_channel=st.booleans(),
    method=st.sampled_from(["POST", "POST", "POST", "GET"]),
    body=st.binary(max_size=100),
    data=st.data(),
)
def test_webhook_headers(
    world: World,
    webhook: str,
    headers: dict[str, str],
    real_channel: bool,
    method: str,
    body: bytes,
    data: st.DataObject,
) -> None:
    if real_channel:  # one of the user's live channels, with forged other headers
        headers["X-Goog-Channel-ID"] = data.draw(st.sampled_from(world.channel_ids))
    url = world.stack.function_url(webhook)
    response = requests.request(method, url, headers=_encode(headers), data=body, timeout=30)
    # No forged header set can be an authentic notification: every one is rejected.
    assert 400 <= response.status_code < 500, (headers, response.text)
    world.assert_untouched(headers)


@st.composite
def event_data(draw: st.DrawFn) -> bytes:
    """Pub/Sub ``data``: raw bytes, hostile JSON, or near-valid messages of each function."""
    kind = draw(st.sampled_from(["bytes", "json", "gmail", "task", "job", "nested"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "nested":
        depth = draw(st.integers(min_value=900, max_value=20_000))
        return draw(st.sampled_from([b"[", b'{"a":'])) * depth
    if kind == "json":
        value: Any = draw(JSON_VALUES)
    elif kind == "gmail":
        value = {"emailAddress": draw(st.one_of(ANY_TEXT, SPECIAL)), "historyId": draw(SCALARS)}
    elif kind == "task":
        value = {"task": draw(st.one_of(st.sampled_from(["tick", "prune", "renew"]), SCALARS))}
    else:
        value = {
            "job_id": draw(st.one_of(SPECIAL, ANY_TEXT)),
            "uid": draw(st.one_of(SPECIAL, ANY_TEXT)),
            "item_id": draw(st.one_of(SPECIAL, ANY_TEXT)),
            "kind": draw(st.one_of(st.just("mail.received"), ANY_TEXT)),
            "created_at": draw(st.one_of(DATES, SCALARS)),
        }
    return json.dumps(value).encode()


ATTRIBUTES = st.dictionaries(URL_TEXT.filter(bool), URL_TEXT, max_size=4)


@settings(FUZZ, max_examples=EVENT_EXAMPLES)
@pytest.mark.parametrize("function", ["gmail_receiver", "watch_maintenance", "push_dispatch"])
@given(
    data=event_data(),
    attributes=ATTRIBUTES,
    message_id=st.one_of(st.just("1"), URL_TEXT.filter(bool)),
)
def test_event_functions_acknowledge(
    world: World, function: str, data: bytes, attributes: dict[str, str], message_id: str
) -> None:
    response = push(world.stack.function_url(function), data, attributes, message_id)
    assert 200 <= response.status_code < 300, (data[:200], attributes, response.text)
