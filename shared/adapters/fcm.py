"""FCM adapter of the push sender port, with firebase-admin (HTTP v1, service account).

firebase-admin authenticates with Application Default Credentials: the runtime service
account in production, ``GOOGLE_APPLICATION_CREDENTIALS`` locally. Our transport adapter
replaces firebase-admin's on the messaging client's HTTP session: it never resends a send
POST (see ``SEND_RETRY``), and with ``FCM_BASE_URL`` set it sends the library's requests to
that base URL instead of https://fcm.googleapis.com (the fake Google locally).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import requests
import requests.adapters
from urllib3.exceptions import ConnectTimeoutError
from urllib3.util.retry import Retry

from shared.services.push import NotSent, PushMessage, SendResult, SendStatus

if TYPE_CHECKING:
    import firebase_admin
    from firebase_admin import exceptions, messaging

FCM_ORIGIN = "https://fcm.googleapis.com"
_FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"

# firebase-admin's own adapter resends any request once on a read error (a timeout after the
# request was sent) and up to 4 times on 500/503, POSTs included. FCM's v1 send has no
# idempotency key, so a resent POST that FCM had already accepted reaches the phone twice.
# Here only a failed connect is retried (the request never left): POST is not an allowed
# method, so urllib3 raises read errors (read=False) and returns every answer as it came
# (no status or Retry-After retries). 5xx answers are retried by the dispatch itself (claim
# released, job redelivered with backoff).
SEND_RETRY = Retry(
    total=None,
    connect=1,
    read=False,
    status=0,
    other=0,
    redirect=0,
    allowed_methods=frozenset({"GET"}),
    respect_retry_after_header=False,
    raise_on_status=False,
)


class RebasingAdapter(requests.adapters.HTTPAdapter):
    """Sends requests for ``origin`` to ``base_url`` instead (same path and query)."""

    def __init__(self, origin: str, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._origin = origin.rstrip("/")
        self._base_url = base_url.rstrip("/")

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        """Rewrite the URL, then send as usual."""
        url = request.url or ""
        if url.startswith(self._origin):
            request.url = self._base_url + url[len(self._origin) :]
        return super().send(request, *args, **kwargs)


class FcmSender:
    """Sends one message to up to 500 tokens with ``send_each_for_multicast``."""

    def __init__(
        self, project_id: str, base_url: str | None = None, timeout_seconds: float = 20.0
    ) -> None:
        self._project_id = project_id
        self._base_url = base_url
        self._timeout_seconds = timeout_seconds
        self._app: firebase_admin.App | None = None
        self._lock = threading.Lock()

    def _firebase_app(self) -> firebase_admin.App:
        with self._lock:
            if self._app is None:
                import firebase_admin

                # A named app: independent of the one the authenticator uses.
                app = firebase_admin.initialize_app(
                    options={"projectId": self._project_id, "httpTimeout": self._timeout_seconds},
                    name="uplus-fcm",
                )
                _route_to(app, self._base_url or FCM_ORIGIN)
                self._app = app
            return self._app

    def send(self, message: PushMessage, tokens: Sequence[str]) -> list[SendResult]:
        """One result per token, in order; ``NotSent`` when no access token could be had."""
        from firebase_admin import messaging

        app = self._firebase_app()
        _fresh_access_token(app)
        batch = messaging.send_each_for_multicast(
            to_multicast(message, tokens, now=time.time()), app=app
        )
        return [
            SendResult(SendStatus.SENT)
            if response.success or response.exception is None
            else classify(response.exception)
            for response in batch.responses
        ]


def _route_to(app: firebase_admin.App, base_url: str) -> None:
    """Mount our adapter (no resent POST; ``base_url``) on the messaging client's session."""
    from firebase_admin import messaging

    session = messaging._get_messaging_service(app)._client.session
    adapter = RebasingAdapter(FCM_ORIGIN, base_url, max_retries=SEND_RETRY, pool_maxsize=100)
    session.mount(FCM_ORIGIN, adapter)


def _fresh_access_token(app: firebase_admin.App) -> None:
    """Refresh the OAuth token before any send, so that failing to get one is ``NotSent``
    rather than a batch whose requests may or may not have left."""
    import google.auth.exceptions
    from google.auth.transport.requests import Request

    credential = app.credential.get_credential()
    if credential.valid:
        return
    try:
        credential.refresh(Request())
    except google.auth.exceptions.GoogleAuthError as error:
        raise NotSent(type(error).__name__) from None


def to_multicast(
    message: PushMessage, tokens: Sequence[str], *, now: float
) -> messaging.MulticastMessage:
    """The firebase-admin message: notification or data-only, Android and APNs options."""
    from firebase_admin import messaging

    visible = not message.data_only
    ttl_seconds = int(message.ttl.total_seconds())
    apns_headers = {
        # Apple requires priority 5 for background (content-available) pushes.
        "apns-push-type": "alert" if visible else "background",
        "apns-priority": "10" if message.urgent else "5",
        "apns-collapse-id": message.collapse_key,
        "apns-expiration": str(int(now) + ttl_seconds),
    }
    aps = messaging.Aps(
        thread_id=message.collapse_key if visible else None,
        sound="default" if visible and message.urgent else None,
        content_available=None if visible else True,
    )
    category = message.data.get("category")
    return messaging.MulticastMessage(
        tokens=list(tokens),
        data=dict(message.data),
        notification=messaging.Notification(title=message.title, body=message.body)
        if visible
        else None,
        android=messaging.AndroidConfig(
            collapse_key=message.collapse_key,
            priority="high" if message.urgent else "normal",
            ttl=message.ttl,
            notification=messaging.AndroidNotification(
                tag=message.collapse_key, channel_id=category
            )
            if visible
            else None,
        ),
        apns=messaging.APNSConfig(headers=apns_headers, payload=messaging.APNSPayload(aps=aps)),
    )


def classify(error: exceptions.FirebaseError) -> SendResult:
    """Map firebase-admin's typed error for one token to what dispatch does with it."""
    from firebase_admin import exceptions, messaging

    body = _error_body(error)
    code = _fcm_error_code(body) or str(error.code)
    if isinstance(error, messaging.UnregisteredError | messaging.SenderIdMismatchError):
        return SendResult(SendStatus.TOKEN_DEAD, code)
    if isinstance(error, messaging.ThirdPartyAuthError):
        return SendResult(SendStatus.CONFIG_ALARM, code)
    if error.http_response is None:
        # No answer: the request may have reached FCM and been accepted, unless it never
        # connected. https://firebase.google.com/docs/cloud-messaging/scale-fcm#retries
        if _never_connected(error.cause):
            return SendResult(SendStatus.RETRY, code)
        return SendResult(SendStatus.UNKNOWN, code)
    transient = (
        messaging.QuotaExceededError,
        exceptions.UnavailableError,
        exceptions.InternalError,
        exceptions.DeadlineExceededError,
        exceptions.UnknownError,
    )
    if isinstance(error, transient):
        return SendResult(SendStatus.RETRY, code)
    if isinstance(error, exceptions.InvalidArgumentError) and _about_token(body):
        return SendResult(SendStatus.TOKEN_DEAD, "INVALID_ARGUMENT")
    return SendResult(SendStatus.REJECTED, code)


def _never_connected(cause: Exception | None) -> bool:
    """The transport failed to connect, so the request was never sent."""
    if isinstance(cause, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(cause, requests.exceptions.ConnectionError) or not cause.args:
        return False
    # requests wraps urllib3's MaxRetryError; NewConnectionError is a ConnectTimeoutError.
    reason = getattr(cause.args[0], "reason", None)
    return isinstance(reason, ConnectTimeoutError)


def _error_body(error: exceptions.FirebaseError) -> dict[str, Any]:
    response = error.http_response
    if response is None:
        return {}
    try:
        parsed = json.loads(response.content or b"{}")
    except ValueError:
        return {}
    inner = parsed.get("error") if isinstance(parsed, dict) else None
    return inner if isinstance(inner, dict) else {}


def _details(body: dict[str, Any]) -> list[dict[str, Any]]:
    details = body.get("details")
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def _fcm_error_code(body: dict[str, Any]) -> str | None:
    for detail in _details(body):
        if detail.get("@type") == _FCM_ERROR_TYPE and detail.get("errorCode"):
            return str(detail["errorCode"])
    return None


def _about_token(body: dict[str, Any]) -> bool:
    """INVALID_ARGUMENT names the token (not our payload) as the offending field."""
    for detail in _details(body):
        if detail.get("@type") != _BAD_REQUEST_TYPE:
            continue
        for violation in detail.get("fieldViolations") or []:
            if isinstance(violation, dict) and violation.get("field") == "message.token":
                return True
    return "registration token" in str(body.get("message", "")).lower()
