"""Calendar v3 for the Calendar API: the ``CalendarGateway`` of ``shared.services.calendar``.

Every request goes through ``GoogleGateway`` (credentials, the 401 and re-link policy,
retries, the error table). Ids travel as method parameters, so googleapiclient escapes
them into the URL.
"""

from __future__ import annotations

from typing import Any

from shared.adapters.google_gateway import GoogleGateway, RequestFactory
from shared.calendar_models import SendUpdates
from shared.scopes import Feature


class GoogleCalendar:
    """Calendar v3 calls on behalf of one of our users."""

    def __init__(self, gateway: GoogleGateway) -> None:
        self._gateway = gateway

    def _execute(
        self, uid: str, make: RequestFactory, headers: dict[str, str] | None = None
    ) -> Any:
        return self._gateway.call(uid, Feature.CALENDAR, make, headers=headers)

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
