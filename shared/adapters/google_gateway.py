"""The one way to call a Google API (Calendar, Gmail, Drive, their ``watch`` and ``stop``).

The gateway owns, for every call:

- the user's credentials (``CredentialSource``: stored, sealed, refreshed ahead of expiry);
- the 401 policy: a refused access token gets one forced refresh and one more try; a
  refresh Google refuses (``invalid_grant``) or a second 401 turns the account
  ``relink_required`` (``CredentialSource.mark_relink_required``: watches stopped, a
  re-link push queued) and raises ``AppError(GOOGLE_RELINK_REQUIRED)``;
- the one error table and retries (``shared.google_errors``) inside the caller's budget
  (``REQUEST_POLICY`` for HTTP functions, ``EVENT_POLICY`` for Pub/Sub and webhooks),
  rate-limit answers and ``Retry-After`` included;
- the transport: one ``requests.Session`` per instance, a timeout per request, and no
  resend of a request that got no answer unless the caller says it is safe.

Discovery documents are the static ones shipped with google-api-python-client; each API's
service object is built once per instance. Ids travel as method parameters, so
googleapiclient escapes them into the URL.

Errors: ``GoogleFailure`` (status, reason, Retry-After) for Google's answers and missing
answers; ``AppError`` from the credentials (not linked, scope not granted, re-link).
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from shared.errors import AppError, ErrorCode
from shared.google_errors import GoogleFailure, RetryPolicy, call_with_retries
from shared.logs import get_logger
from shared.scopes import Feature
from shared.settings import Settings

if TYPE_CHECKING:
    import requests
    from google.oauth2.credentials import Credentials
    from googleapiclient.discovery import Resource
    from googleapiclient.http import HttpRequest

log = get_logger(__name__)

# Feature → (API name, version, path of the API under an endpoint override).
_APIS: dict[Feature, tuple[str, str, str]] = {
    Feature.GMAIL: ("gmail", "v1", ""),
    Feature.DRIVE: ("drive", "v3", "drive/v3/"),
    Feature.CALENDAR: ("calendar", "v3", "calendar/v3/"),
}

RequestFactory = Callable[["Resource"], "HttpRequest"]


class CredentialSource(Protocol):
    """Port: per-user Google credentials (``GoogleCredentialsProvider``)."""

    def for_user(
        self, uid: str, feature: Feature | None = None, *, force_refresh: bool = False
    ) -> Credentials: ...

    def mark_relink_required(self, uid: str) -> None: ...


class GoogleGateway:
    """Executes Google API requests on behalf of one of our users."""

    def __init__(
        self,
        settings: Settings,
        credentials: CredentialSource,
        policy: RetryPolicy,
        *,
        pool_size: int = 10,
    ) -> None:
        self._settings = settings
        self._credentials = credentials
        self._policy = policy
        self._pool_size = pool_size
        self._lock = threading.Lock()
        self._services: dict[Feature, Resource] = {}
        self._local = threading.local()  # per thread: the tokens of ``reusing_credentials``

    @contextlib.contextmanager
    def reusing_credentials(self) -> Iterator[None]:
        """Within the block (one unit of work of this thread: a sync pass's reads), a user's
        stored credentials are read once per feature, not once per request; a 401 still
        forces a refresh. Outside any block every call reads them."""
        if getattr(self._local, "tokens", None) is not None:
            yield  # already inside one
            return
        self._local.tokens = {}
        try:
            yield
        finally:
            self._local.tokens = None

    def _forget(self, uid: str) -> None:
        """Drop the user's reused tokens: refused, or about to be (a re-link stops watches
        through this gateway, which must then see the account as it now is)."""
        tokens: dict[tuple[str, Feature], str] = getattr(self._local, "tokens", None) or {}
        for cached in [key for key in tokens if key[0] == uid]:
            del tokens[cached]

    def _token(self, uid: str, feature: Feature, *, force_refresh: bool = False) -> str:
        tokens: dict[tuple[str, Feature], str] | None = getattr(self._local, "tokens", None)
        if force_refresh:
            self._forget(uid)
        elif tokens is not None and (uid, feature) in tokens:
            return tokens[(uid, feature)]
        token = str(self._credentials.for_user(uid, feature, force_refresh=force_refresh).token)
        if tokens is not None:
            tokens[(uid, feature)] = token
        return token

    @functools.cached_property
    def _session(self) -> requests.Session:
        # Imported on the first Google call: requests and httplib2 cost a cold start that
        # makes none (a maintenance tick, an unknown OAuth state) a few hundred ms.
        from shared.adapters.google_http import make_session

        return make_session(self._pool_size)

    def _service(self, feature: Feature) -> Resource:
        with self._lock:
            service = self._services.get(feature)
            if service is None:
                service = self._services[feature] = self._build(feature)
            return service

    def _build(self, feature: Feature) -> Resource:
        import httplib2
        from googleapiclient.discovery import build

        api, version, path = _APIS[feature]
        endpoint = self._settings.api_endpoint(path)
        return build(
            api,
            version,
            # A placeholder: every request is executed with its own BearerHttp.
            http=httplib2.Http(),
            static_discovery=True,
            cache_discovery=False,
            client_options={"api_endpoint": endpoint} if endpoint else None,
        )

    def call(
        self,
        uid: str,
        feature: Feature,
        make: RequestFactory,
        *,
        headers: dict[str, str] | None = None,
        resend_safe: bool = True,
    ) -> Any:
        """Execute ``make(service)`` as the user; the parsed JSON answer (None when empty).

        ``resend_safe=False`` for calls Google may apply although no answer came back
        (``watch``: a resend would open a second channel).
        """
        from shared.adapters.google_http import BearerHttp  # lazily, like _session

        service = self._service(feature)
        timeout = self._settings.google_api_timeout_seconds

        def attempt(token: str) -> Any:
            request = make(service)
            request.headers.update(headers or {})
            return request.execute(http=BearerHttp(self._session, token, timeout))

        def with_retries(token: str) -> Any:
            return call_with_retries(lambda: attempt(token), self._policy, resend_safe=resend_safe)

        token = self._token(uid, feature)
        try:
            return with_retries(token)
        except GoogleFailure as failure:
            if failure.status != 401:
                raise
        # The access token was refused: refresh once (invalid_grant marks re-link there).
        fresh = self._token(uid, feature, force_refresh=True)
        try:
            return with_retries(fresh)
        except GoogleFailure as failure:
            if failure.status != 401:
                raise
        log.warning("google refused a fresh access token: account needs re-link")
        self._forget(uid)
        self._credentials.mark_relink_required(uid)
        raise AppError(ErrorCode.GOOGLE_RELINK_REQUIRED, "Link your Google account again.")
