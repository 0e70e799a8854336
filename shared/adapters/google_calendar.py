"""Calendar v3 through googleapiclient: the ``CalendarGateway`` of ``shared.services.calendar``.

The discovery-based service object is built once per instance (static discovery, ~2 ms); each
call gets its own HTTP object with the user's current access token. Ids always travel as
method parameters, so googleapiclient escapes them into the URL. A 401 gets one forced token
refresh and one more try; a second 401 marks the account for re-link.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from shared.adapters.google_http import BearerHttp
from shared.calendar_models import SendUpdates
from shared.google_errors import GoogleFailure, RetryPolicy, call_with_retries
from shared.scopes import Feature
from shared.settings import Settings

if TYPE_CHECKING:
    from google.oauth2.credentials import Credentials
    from googleapiclient.discovery import Resource
    from googleapiclient.http import HttpRequest


class CredentialSource(Protocol):
    """Port: per-user Google credentials (``GoogleCredentialsProvider``)."""

    def for_user(
        self, uid: str, feature: Feature | None = None, *, force_refresh: bool = False
    ) -> Credentials: ...

    def mark_relink_required(self, uid: str) -> None: ...


RequestFactory = Callable[["Resource"], "HttpRequest"]


class GoogleCalendar:
    """Calendar v3 calls on behalf of one of our users."""

    def __init__(
        self, settings: Settings, credentials: CredentialSource, policy: RetryPolicy | None = None
    ) -> None:
        self._settings = settings
        self._credentials = credentials
        self._policy = policy or RetryPolicy()

    @functools.cached_property
    def _service(self) -> Resource:
        import httplib2
        from googleapiclient.discovery import build

        endpoint = self._settings.api_endpoint("calendar/v3/")
        return build(
            "calendar",
            "v3",
            # A placeholder: every request is executed with its own HTTP object.
            http=httplib2.Http(),
            static_discovery=True,
            cache_discovery=False,
            client_options={"api_endpoint": endpoint} if endpoint else None,
        )

    def _execute(
        self, uid: str, make: RequestFactory, headers: dict[str, str] | None = None
    ) -> Any:
        service = self._service
        timeout = self._settings.google_api_timeout_seconds

        def attempt(token: str) -> Any:
            request = make(service)
            request.headers.update(headers or {})
            return request.execute(http=BearerHttp(token, timeout))

        token = str(self._credentials.for_user(uid, Feature.CALENDAR).token)
        try:
            return call_with_retries(lambda: attempt(token), self._policy)
        except GoogleFailure as failure:
            if failure.status != 401:
                raise
        # The cached access token was refused: refresh once (invalid_grant marks re-link there).
        fresh = str(self._credentials.for_user(uid, Feature.CALENDAR, force_refresh=True).token)
        try:
            return call_with_retries(lambda: attempt(fresh), self._policy)
        except GoogleFailure as failure:
            if failure.status == 401:
                self._credentials.mark_relink_required(uid)
            raise

    def list_calendars(self, uid: str, page_token: str | None) -> dict[str, Any]:
        """calendarList.list."""
        return dict(
            self._execute(
                uid, lambda s: s.calendarList().list(pageToken=page_token, maxResults=250)
            )
        )

    def list_events(self, uid: str, calendar_id: str, params: dict[str, Any]) -> dict[str, Any]:
        """events.list."""
        return dict(self._execute(uid, lambda s: s.events().list(calendarId=calendar_id, **params)))

    def list_instances(
        self, uid: str, calendar_id: str, event_id: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        """events.instances."""
        return dict(
            self._execute(
                uid,
                lambda s: s.events().instances(calendarId=calendar_id, eventId=event_id, **params),
            )
        )

    def get_event(self, uid: str, calendar_id: str, event_id: str) -> dict[str, Any]:
        """events.get."""
        return dict(
            self._execute(uid, lambda s: s.events().get(calendarId=calendar_id, eventId=event_id))
        )

    def insert_event(
        self,
        uid: str,
        calendar_id: str,
        body: dict[str, Any],
        *,
        send_updates: SendUpdates,
        conference: bool,
    ) -> dict[str, Any]:
        """events.insert (the body carries our id, so a retried insert answers 409)."""
        return dict(
            self._execute(
                uid,
                lambda s: s.events().insert(
                    calendarId=calendar_id,
                    body=body,
                    sendUpdates=send_updates,
                    conferenceDataVersion=1 if conference else 0,
                ),
            )
        )

    def patch_event(
        self,
        uid: str,
        calendar_id: str,
        event_id: str,
        body: dict[str, Any],
        *,
        send_updates: SendUpdates,
        if_match: str | None,
    ) -> dict[str, Any]:
        """events.patch, conditional on ``if_match`` when given."""
        return dict(
            self._execute(
                uid,
                lambda s: s.events().patch(
                    calendarId=calendar_id, eventId=event_id, body=body, sendUpdates=send_updates
                ),
                {"If-Match": if_match} if if_match else None,
            )
        )

    def delete_event(
        self,
        uid: str,
        calendar_id: str,
        event_id: str,
        *,
        send_updates: SendUpdates,
        if_match: str | None,
    ) -> None:
        """events.delete, conditional on ``if_match`` when given."""
        self._execute(
            uid,
            lambda s: s.events().delete(
                calendarId=calendar_id, eventId=event_id, sendUpdates=send_updates
            ),
            {"If-Match": if_match} if if_match else None,
        )
