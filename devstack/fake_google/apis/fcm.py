"""FCM HTTP v1: `fcm.projects.messages.send`, recording every message it accepts.

Errors are FCM's own bodies: `error.status` plus a `details[]` entry of type
`type.googleapis.com/google.firebase.fcm.v1.FcmError` with `errorCode`, which is what makes
firebase-admin raise its typed exceptions (`UnregisteredError`, `QuotaExceededError`, ...).

Control routes (under `/_control/fcm`):
- `GET /messages[?token=T]`: the accepted messages, oldest first (`name`, `token`, `message`).
- `POST /unregister` `{"token"}`: the token answers `UNREGISTERED` from now on.
- `POST /fail` `{"token", "error_code", "times"?, "retry_after"?}`: the token's next `times`
  sends (default 1; 0 = every send) fail with `error_code` (`UNAVAILABLE`, `QUOTA_EXCEEDED`,
  `INTERNAL`, `THIRD_PARTY_AUTH_ERROR`, `SENDER_ID_MISMATCH`, `UNREGISTERED`,
  `INVALID_ARGUMENT`).
- `POST /slow` `{"token", "delay_seconds", "times"?}`: the token's next `times` sends (default
  1; 0 = every send) are accepted and recorded at once, but answered `delay_seconds` later, so
  a client whose timeout is shorter never learns that FCM accepted them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from devstack.fake_google.registry import ApiModule, ApiRequest, ApiResponse, ControlRequest

FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"

# errorCode -> (HTTP status, canonical status, message), as FCM answers them.
ERRORS: dict[str, tuple[int, str, str]] = {
    "UNREGISTERED": (404, "NOT_FOUND", "Requested entity was not found."),
    "INVALID_ARGUMENT": (
        400,
        "INVALID_ARGUMENT",
        "The registration token is not a valid FCM registration token",
    ),
    "SENDER_ID_MISMATCH": (403, "PERMISSION_DENIED", "SenderId mismatch"),
    "QUOTA_EXCEEDED": (
        429,
        "RESOURCE_EXHAUSTED",
        "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute'.",
    ),
    "UNAVAILABLE": (503, "UNAVAILABLE", "The service is currently unavailable."),
    "INTERNAL": (500, "INTERNAL", "Internal error encountered."),
    "THIRD_PARTY_AUTH_ERROR": (401, "UNAUTHENTICATED", "Auth error from APNS or Web Push Service"),
}

_TOKEN = re.compile(r"^[A-Za-z0-9_:.-]{32,4096}$")
_DURATION = re.compile(r"^\d{1,10}(\.\d{1,9})?s$")
_RESERVED_DATA_KEYS = frozenset({"from", "notification", "message_type"})
_APNS_PUSH_TYPES = frozenset(
    {"alert", "background", "voip", "complication", "fileprovider", "mdm", "liveactivity"}
)
_MAX_PAYLOAD_BYTES = 4096


@dataclass
class Failure:
    """Queued faults of one token; ``times_left`` None applies to every send.

    With an ``error_code`` the send fails; without one it is accepted but answered late.
    """

    error_code: str | None
    times_left: int | None
    retry_after: int | None = None
    delay_seconds: float = 0.0


@dataclass
class FcmData:
    """Accepted messages, unregistered tokens and queued failures."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    unregistered: set[str] = field(default_factory=set)
    failures: dict[str, list[Failure]] = field(default_factory=dict)

    def take_failure(self, token: str) -> Failure | None:
        """Consume one use of the oldest failure queued for the token."""
        queue = self.failures.get(token) or []
        if not queue:
            return None
        failure = queue[0]
        if failure.times_left is not None:
            failure.times_left -= 1
            if failure.times_left <= 0:
                queue.pop(0)
        return failure


module: ApiModule[FcmData] = ApiModule("fcm", FcmData)


def fcm_error(
    error_code: str, *, message: str | None = None, field_name: str | None = None
) -> ApiResponse:
    """An FCM v1 error response for ``error_code``."""
    status, canonical, default_message = ERRORS[error_code]
    text = message or default_message
    details: list[dict[str, Any]] = [{"@type": FCM_ERROR_TYPE, "errorCode": error_code}]
    if field_name is not None:
        details.append(
            {
                "@type": BAD_REQUEST_TYPE,
                "fieldViolations": [{"field": field_name, "description": text}],
            }
        )
    body = {"error": {"code": status, "message": text, "status": canonical, "details": details}}
    return ApiResponse(body, status=status)


class _Invalid(Exception):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field_name = field_name
        self.message = message


def _strings(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _Invalid(where, f"Invalid value at '{where}': a map of strings is required")
    return value


def _validate(message: Any) -> str:
    """The target token of a valid message; raises ``_Invalid`` like FCM's 400s."""
    if not isinstance(message, dict):
        raise _Invalid("message", "Invalid JSON payload received. 'message' must be an object.")
    targets = [key for key in ("token", "topic", "condition") if message.get(key)]
    if targets != ["token"]:
        raise _Invalid("message", "Exactly one of token, topic or condition must be specified.")
    token = message["token"]
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise _Invalid("message.token", ERRORS["INVALID_ARGUMENT"][2])
    data = _strings(message.get("data"), "message.data")
    for key in data:
        if key in _RESERVED_DATA_KEYS or key.startswith(("google.", "gcm.")):
            raise _Invalid("message.data", f"Invalid data payload key: {key}")
    notification = message.get("notification")
    if notification is not None:
        _strings(notification, "message.notification")
    android = message.get("android") or {}
    if not isinstance(android, dict):
        raise _Invalid("message.android", "Invalid value at 'message.android'")
    ttl = android.get("ttl")
    if ttl is not None and (not isinstance(ttl, str) or not _DURATION.match(ttl)):
        raise _Invalid("message.android.ttl", "Invalid value at 'message.android.ttl'")
    priority = android.get("priority")
    if priority is not None and str(priority).upper() not in ("NORMAL", "HIGH"):
        raise _Invalid("message.android.priority", "Invalid value at 'message.android.priority'")
    apns = message.get("apns") or {}
    if not isinstance(apns, dict):
        raise _Invalid("message.apns", "Invalid value at 'message.apns'")
    headers = _strings(apns.get("headers"), "message.apns.headers")
    if headers.get("apns-priority") not in (None, "1", "5", "10"):
        raise _Invalid("message.apns.headers", "Invalid apns-priority")
    if headers.get("apns-push-type") not in (None, *_APNS_PUSH_TYPES):
        raise _Invalid("message.apns.headers", "Invalid apns-push-type")
    if len(headers.get("apns-collapse-id", "").encode()) > 64:
        raise _Invalid("message.apns.headers", "apns-collapse-id exceeds 64 bytes")
    payload = json.dumps({"data": data, "notification": notification or {}}).encode()
    if len(payload) > _MAX_PAYLOAD_BYTES:
        raise _Invalid("message", "Message is too big")
    return token


def _service_account_project(request: ApiRequest) -> str | None:
    for account in request.state.service_accounts.values():
        if account.client_id == request.client_id:
            return account.project_id
    return None


@module.handler("fcm.projects.messages.send")
def send(request: ApiRequest, data: FcmData) -> ApiResponse | dict[str, Any]:
    """Validate and record one message, or fail as FCM would for its token."""
    parent = request.path_params["parent"]
    project = parent.split("/", 1)[1]
    owner = _service_account_project(request)
    if owner is not None and owner != project:
        return ApiResponse(
            {
                "error": {
                    "code": 403,
                    "message": f"Permission 'cloudmessaging.messages.create' denied on resource "
                    f"'//cloudresourcemanager.googleapis.com/projects/{project}' (or it may not "
                    f"exist).",
                    "status": "PERMISSION_DENIED",
                }
            },
            status=403,
        )
    body = request.body if isinstance(request.body, dict) else {}
    try:
        token = _validate(body.get("message"))
    except _Invalid as invalid:
        if invalid.field_name == "message.token":
            return fcm_error("INVALID_ARGUMENT", field_name="message.token")
        return fcm_error("INVALID_ARGUMENT", message=invalid.message, field_name=invalid.field_name)
    if token in data.unregistered:
        return fcm_error("UNREGISTERED")
    failure = data.take_failure(token)
    if failure is not None and failure.error_code is not None:
        response = fcm_error(failure.error_code)
        if failure.retry_after is not None:
            response.headers["Retry-After"] = str(failure.retry_after)
        return response
    name = f"{parent}/messages/0:{len(data.messages) + 1}%fake"
    if not body.get("validate_only"):
        data.messages.append(
            {"name": name, "token": token, "message": body["message"], "at": request.state.now()}
        )
    return ApiResponse({"name": name}, delay_seconds=failure.delay_seconds if failure else 0.0)


@module.control("/messages", methods=("GET",))
def list_messages(request: ControlRequest, data: FcmData) -> dict[str, Any]:
    """Accepted messages, optionally for one token."""
    token = request.args.get("token")
    return {"messages": [m for m in data.messages if token is None or m["token"] == token]}


@module.control("/unregister")
def unregister(request: ControlRequest, data: FcmData) -> ApiResponse | dict[str, Any]:
    """Make a token answer UNREGISTERED (the app was uninstalled)."""
    token = request.body.get("token")
    if not isinstance(token, str) or not token:
        return _control_error("token is required")
    data.unregistered.add(token)
    return {"ok": True}


@module.control("/fail")
def fail(request: ControlRequest, data: FcmData) -> ApiResponse | dict[str, Any]:
    """Queue failures of one token."""
    token = request.body.get("token")
    code = request.body.get("error_code")
    times = request.body.get("times", 1)
    retry_after = request.body.get("retry_after")
    if not isinstance(token, str) or not token:
        return _control_error("token is required")
    if code not in ERRORS:
        return _control_error(f"error_code must be one of {sorted(ERRORS)}")
    if not isinstance(times, int) or times < 0:
        return _control_error("times must be an integer >= 0 (0: every send)")
    if retry_after is not None and not isinstance(retry_after, int):
        return _control_error("retry_after must be an integer")
    queue = data.failures.setdefault(token, [])
    queue.append(Failure(code, times or None, retry_after))
    return {"ok": True}


@module.control("/slow")
def slow(request: ControlRequest, data: FcmData) -> ApiResponse | dict[str, Any]:
    """Queue late answers to sends FCM accepts (a client timeout after acceptance)."""
    token = request.body.get("token")
    delay = request.body.get("delay_seconds")
    times = request.body.get("times", 1)
    if not isinstance(token, str) or not token:
        return _control_error("token is required")
    if not isinstance(delay, int | float) or isinstance(delay, bool) or not 0 < delay <= 120:
        return _control_error("delay_seconds must be a number in (0, 120]")
    if not isinstance(times, int) or times < 0:
        return _control_error("times must be an integer >= 0 (0: every send)")
    data.failures.setdefault(token, []).append(Failure(None, times or None, None, float(delay)))
    return {"ok": True}


def _control_error(message: str) -> ApiResponse:
    return ApiResponse({"error": message}, status=400)
