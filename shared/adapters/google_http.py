"""A thread-confined HTTP object for googleapiclient, over requests.

``httplib2.Http`` is not thread-safe and silently resends a request whose connection dropped;
this object is built per request and never retries, so ``shared.google_errors`` alone decides
how often Google is called.
"""

from __future__ import annotations

from typing import Any

import httplib2
import requests

# Headers that describe the wire encoding, which requests has already undone.
_WIRE_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length"})


class BearerHttp:
    """What googleapiclient calls as ``http.request(...)``, sending one access token."""

    def __init__(self, access_token: str, timeout: float) -> None:
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
        with requests.Session() as session:
            response = session.request(
                method, uri, data=body, headers=sent, timeout=self.timeout, allow_redirects=False
            )
        info = {k.lower(): v for k, v in response.headers.items() if k.lower() not in _WIRE_HEADERS}
        info["status"] = str(response.status_code)
        return httplib2.Response(info), response.content
