"""Routing and query validation driven by the discovery documents of google-api-python-client.

Every method of a registered API is compiled into a matcher for `/<servicePath><path>`, which is
exactly the URL googleapiclient builds with `client_options={"api_endpoint": base/servicePath}`.
"""

from __future__ import annotations

import functools
import json
import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from googleapiclient.discovery_cache import get_static_doc

from devstack.fake_google.errors import GoogleApiError

REGISTERED_APIS: tuple[tuple[str, str], ...] = (
    ("calendar", "v3"),
    ("gmail", "v1"),
    ("drive", "v3"),
    ("oauth2", "v2"),
    ("fcm", "v1"),
)

# Query parameters every Google API accepts; googleapiclient always sends `alt=json`.
STANDARD_QUERY_PARAMS = frozenset(
    {
        "alt",
        "fields",
        "key",
        "prettyPrint",
        "quotaUser",
        "userIp",
        "$.xgafv",
        "access_token",
        "callback",
        "oauth_token",
        "upload_protocol",
        "uploadType",
    }
)

# Service names in ErrorInfo metadata, where they differ from `<api>.googleapis.com`.
_SERVICE_NAMES = {"calendar": "calendar-json.googleapis.com"}

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", re.I)
_TEMPLATE_EXPRESSION = re.compile(r"\{(\+?)([^}]+)\}")


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a discovery method."""

    name: str
    location: str
    type: str
    format: str | None
    required: bool
    repeated: bool
    enum: tuple[str, ...] | None
    pattern: str | None
    minimum: int | None
    maximum: int | None


@dataclass(frozen=True)
class MethodSpec:
    """One discovery method, compiled for matching."""

    api: str
    version: str
    method_id: str
    http_method: str
    path_template: str
    path_regex: re.Pattern[str]
    path_param_names: tuple[str, ...]
    params: dict[str, ParamSpec]
    scopes: frozenset[str]
    has_request_body: bool
    # More literal characters = more specific, so `files/generateIds` beats `files/{fileId}`.
    literal_length: int

    @property
    def service_name(self) -> str:
        """The googleapis.com service that hosts this method."""
        return _SERVICE_NAMES.get(self.api, f"{self.api}.googleapis.com")


@dataclass(frozen=True)
class ApiDescription:
    """A loaded discovery document."""

    api: str
    version: str
    service_path: str
    methods: tuple[MethodSpec, ...]
    scopes: frozenset[str]


@dataclass(frozen=True)
class RouteMatch:
    """A request matched to a method, with its decoded path parameters."""

    method: MethodSpec
    path_params: dict[str, str]


def _int_or_none(value: Any) -> int | None:
    return int(value) if value is not None else None


def _parse_param(name: str, raw: dict[str, Any]) -> ParamSpec:
    enum = raw.get("enum")
    return ParamSpec(
        name=name,
        location=raw.get("location", "query"),
        type=raw.get("type", "string"),
        format=raw.get("format"),
        required=bool(raw.get("required", False)),
        repeated=bool(raw.get("repeated", False)),
        enum=tuple(enum) if enum else None,
        pattern=raw.get("pattern"),
        minimum=_int_or_none(raw.get("minimum")),
        maximum=_int_or_none(raw.get("maximum")),
    )


def compile_path(template: str) -> tuple[re.Pattern[str], tuple[str, ...], int]:
    """Compile a URI template path: `{x}` is one segment, `{+x}` may span several."""
    regex = ""
    names: list[str] = []
    literal_length = 0
    position = 0
    for expression in _TEMPLATE_EXPRESSION.finditer(template):
        literal = template[position : expression.start()]
        regex += re.escape(literal)
        literal_length += len(literal)
        regex += "(.+)" if expression.group(1) == "+" else "([^/]+)"
        names.append(expression.group(2))
        position = expression.end()
    literal = template[position:]
    regex += re.escape(literal)
    literal_length += len(literal)
    return re.compile(f"^{regex}$"), tuple(names), literal_length


def _walk_methods(resource: dict[str, Any]) -> Iterable[dict[str, Any]]:
    yield from resource.get("methods", {}).values()
    for child in resource.get("resources", {}).values():
        yield from _walk_methods(child)


@functools.cache
def load_api(api: str, version: str) -> ApiDescription:
    """Load and compile the discovery document shipped with google-api-python-client."""
    text = get_static_doc(api, version)
    if text is None:
        raise ValueError(f"no static discovery document for {api} {version}")
    doc = json.loads(text)
    service_path = doc["servicePath"]
    methods = []
    for raw in _walk_methods(doc):
        template = "/" + service_path + raw["path"]
        regex, names, literal_length = compile_path(template)
        methods.append(
            MethodSpec(
                api=api,
                version=version,
                method_id=raw["id"],
                http_method=raw["httpMethod"],
                path_template=template,
                path_regex=regex,
                path_param_names=names,
                params={n: _parse_param(n, p) for n, p in raw.get("parameters", {}).items()},
                scopes=frozenset(raw.get("scopes", ())),
                has_request_body="request" in raw,
                literal_length=literal_length,
            )
        )
    scopes = frozenset(doc.get("auth", {}).get("oauth2", {}).get("scopes", {}))
    return ApiDescription(api, version, service_path, tuple(methods), scopes)


class DiscoveryRouter:
    """Matches HTTP requests to the methods of the registered APIs."""

    def __init__(self, apis: Iterable[tuple[str, str]] = REGISTERED_APIS) -> None:
        self.apis = tuple(load_api(api, version) for api, version in apis)
        self.methods = {m.method_id: m for a in self.apis for m in a.methods}

    def known_scopes(self) -> frozenset[str]:
        """Every OAuth scope any registered API declares."""
        return frozenset().union(*(a.scopes for a in self.apis))

    def match(self, http_method: str, raw_path: str) -> RouteMatch | None:
        """The most specific method whose template matches the still-percent-encoded path."""
        best: RouteMatch | None = None
        for method in self.methods.values():
            if method.http_method != http_method:
                continue
            found = method.path_regex.match(raw_path)
            if found is None:
                continue
            values = {
                name: urllib.parse.unquote(value)
                for name, value in zip(method.path_param_names, found.groups(), strict=True)
            }
            if not _path_params_fit(method, values):
                continue
            if best is None or method.literal_length > best.method.literal_length:
                best = RouteMatch(method, values)
        return best


def _path_params_fit(method: MethodSpec, values: dict[str, str]) -> bool:
    for name, value in values.items():
        spec = method.params.get(name)
        if spec is not None and spec.pattern and not re.match(spec.pattern, value):
            return False
    return True


def _invalid(name: str, value: str) -> GoogleApiError:
    return GoogleApiError(
        400,
        f"Invalid value '{value}' for parameter {name}.",
        "invalidParameter",
        location=name,
        location_type="parameter",
    )


def _convert(spec: ParamSpec, value: str) -> Any:
    if spec.enum is not None and value not in spec.enum:
        raise _invalid(spec.name, value)
    if spec.type == "boolean":
        if value not in ("true", "false"):
            raise _invalid(spec.name, value)
        return value == "true"
    if spec.type == "integer" or spec.format in ("int64", "uint64"):
        try:
            number = int(value)
        except ValueError:
            raise _invalid(spec.name, value) from None
        too_small = spec.minimum is not None and number < spec.minimum
        too_big = spec.maximum is not None and number > spec.maximum
        if too_small or too_big or (spec.format == "uint64" and number < 0):
            raise _invalid(spec.name, value)
        # int64 values travel as strings in Google's JSON; handlers get what the type says.
        return number if spec.type == "integer" else value
    if spec.format == "date-time" and not _RFC3339.match(value):
        raise _invalid(spec.name, value)
    return value


def validate_query(method: MethodSpec, pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Check query parameters against the method; return them typed (lists for repeated ones)."""
    collected: dict[str, list[str]] = {}
    for name, value in pairs:
        collected.setdefault(name, []).append(value)
    result: dict[str, Any] = {}
    for name, values in collected.items():
        spec = method.params.get(name)
        if spec is None or spec.location != "query":
            if name in STANDARD_QUERY_PARAMS:
                continue
            raise GoogleApiError(
                400,
                f"Unknown parameter: {name}",
                "invalidParameter",
                location=name,
                location_type="parameter",
            )
        if len(values) > 1 and not spec.repeated:
            raise _invalid(name, ",".join(values))
        converted = [_convert(spec, v) for v in values]
        result[name] = converted if spec.repeated else converted[0]
    for spec in method.params.values():
        if spec.location == "query" and spec.required and spec.name not in result:
            raise GoogleApiError(
                400,
                f"Required parameter: {spec.name}",
                "required",
                location=spec.name,
                location_type="parameter",
            )
    return result
