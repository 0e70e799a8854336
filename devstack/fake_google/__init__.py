"""A stateful fake of Google's OAuth server and REST APIs, served on one host:port.

The real Google client libraries talk to it over HTTP; production code only swaps base URLs.
Paths are Google's own:

- `GET /o/oauth2/v2/auth` (consent page) and `POST /o/oauth2/v2/auth/approve` (its form),
- `POST /token`, `POST /revoke`, `GET /oauth2/v1/certs` (PEM) and `GET /oauth2/v3/certs` (JWKS),
- `/<servicePath><method path>` of every method in the discovery documents of
  calendar v3, gmail v1, drive v3, oauth2 v2 and fcm v1 (see `discovery.REGISTERED_APIS`),
- `/_control/...`: the test control API (see `control.py`).

Run it with `python -m devstack.fake_google --port N --client-id ID --client-secret S
--redirect-uri URI`, or in-process with `create_app(FakeGoogleConfig(...))` plus
`server.BackgroundServer`.

Adding an API
-------------
The gateway (`api_gateway.py`) matches the request to a discovery method, checks the bearer
token (401) and the method's scopes (403), validates query parameters (400) and the JSON body,
applies queued faults, then calls the handler registered for the method id; methods without a
handler answer 501. So a module only writes handlers::

    # apis/calendar.py
    @dataclass
    class CalendarData:
        events: dict[str, dict[str, Any]] = field(default_factory=dict)

    module: ApiModule[CalendarData] = ApiModule("calendar", CalendarData)

    @module.handler("calendar.events.get")
    def get_event(request: ApiRequest, data: CalendarData) -> dict[str, Any]:
        event = data.events.get(request.path_params["eventId"])
        if event is None:
            raise GoogleApiError(404, "Not Found", "notFound")
        return event

and lists `module` in `apis.API_MODULES`. Handlers get an `ApiRequest` (path params, typed
query, JSON body, the authenticated `FakeUser` as `request.caller`, its scopes, the global
`FakeState`) and the module's data object, which is created by the module's factory at startup
and on every `/_control/reset`. They run holding the state lock, so they must not block: outbound
calls (webhooks, Pub/Sub) go through `request.defer(...)`, which runs after the response. They
return a dict/list (JSON 200), None (204), or an `ApiResponse`, and raise `GoogleApiError` for
Google-shaped errors. `@module.control("/seed")` adds a test-only route at
`/_control/<module name>/seed`.
"""

from devstack.fake_google.app import create_app
from devstack.fake_google.config import FakeGoogleConfig, OAuthClient

__all__ = ["FakeGoogleConfig", "OAuthClient", "create_app"]
