"""Discovery clients for Google APIs (static discovery, endpoint overrides from settings)
and the HTTP status of their errors for the sync and watch code."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.settings import Settings

if TYPE_CHECKING:
    from google.oauth2.credentials import Credentials

_SERVICE_PATHS = {
    ("gmail", "v1"): "",
    ("drive", "v3"): "drive/v3/",
    ("calendar", "v3"): "calendar/v3/",
}


def build_service(api: str, version: str, credentials: Credentials, settings: Settings) -> Any:
    """A discovery client with its own HTTP object (httplib2 is not thread-safe)."""
    import google_auth_httplib2
    import httplib2
    from googleapiclient.discovery import build

    endpoint = settings.api_endpoint(_SERVICE_PATHS[(api, version)])
    http = google_auth_httplib2.AuthorizedHttp(
        credentials, http=httplib2.Http(timeout=settings.google_api_timeout_seconds)
    )
    return build(
        api,
        version,
        http=http,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": endpoint} if endpoint else None,
    )


def error_status(exc: BaseException) -> int | None:
    """The HTTP status of a googleapiclient ``HttpError``, else None."""
    from googleapiclient.errors import HttpError

    if isinstance(exc, HttpError):
        return int(exc.resp.status)
    return None
