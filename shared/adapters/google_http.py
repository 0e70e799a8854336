"""The HTTP object googleapiclient executes requests with: one ``requests.Session`` per
instance, one access token per call, and no resend of any kind.

``httplib2.Http`` is not thread-safe and silently resends a request whose connection
dropped (a POST included). Here a dropped or timed-out request surfaces as an exception and
only the gateway's retry policy decides whether Google is called again.
"""

from __future__ import annotations

from typing import Any

import httplib2
import requests
import requests.adapters

# Headers that describe the wire encoding, which requests has already undone.
_WIRE_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length"})


def make_session(pool_size: int) -> requests.Session:
    """A session whose connection pool fits the instance's concurrency; never retries.

    urllib3's pool is thread-safe, so one session serves every thread of the instance.
    """
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(
        pool_connections=4, pool_maxsize=pool_size, max_retries=0
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class BearerHttp:
    """What googleapiclient calls as ``http.request(...)``, sending one access token."""

    def __init__(self, session: requests.Session, access_token: str, timeout: float) -> None:
        self._session = session
        self._token = access_token
        self.timeout = timeout

    def request(
        self,
        uri: str,
        method: str = "GET",
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        redirections: int = 0,
        connection_type: Any = None,
    ) -> tuple[httplib2.Response, bytes]:
        """Send one request; returns httplib2's (response, content) pair."""
        sent = dict(headers or {})
        sent["authorization"] = f"Bearer {self._token}"
        response = self._session.request(
            method, uri, data=body, headers=sent, timeout=self.timeout, allow_redirects=False
        )
        info = {k.lower(): v for k, v in response.headers.items() if k.lower() not in _WIRE_HEADERS}
        info["status"] = str(response.status_code)
        return httplib2.Response(info), response.content
