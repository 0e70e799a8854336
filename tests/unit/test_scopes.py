"""Each feature's scopes cover every Google method it calls (per the discovery documents)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import googleapiclient
import pytest

from shared.scopes import FEATURE_SCOPES, Feature, granted_features, normalize

DOCUMENTS = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"

CALLS: dict[Feature, tuple[str, list[str]]] = {
    Feature.CALENDAR: (
        "calendar.v3",
        [
            "calendar.calendarList.list",
            "calendar.events.list",
            "calendar.events.instances",
            "calendar.events.get",
            "calendar.events.insert",
            "calendar.events.patch",
            "calendar.events.delete",
            "calendar.events.watch",
            "calendar.channels.stop",
        ],
    ),
    Feature.GMAIL: (
        "gmail.v1",
        [
            "gmail.users.watch",
            "gmail.users.stop",
            "gmail.users.getProfile",
            "gmail.users.history.list",
            "gmail.users.messages.get",
        ],
    ),
    Feature.DRIVE: (
        "drive.v3",
        [
            "drive.changes.getStartPageToken",
            "drive.changes.list",
            "drive.changes.watch",
            "drive.channels.stop",
        ],
    ),
}


def _methods(node: dict[str, Any]) -> Iterator[tuple[str, list[str]]]:
    for resource in node.get("resources", {}).values():
        for method in resource.get("methods", {}).values():
            yield method["id"], method.get("scopes", [])
        yield from _methods(resource)


@pytest.mark.parametrize("feature", list(Feature))
def test_feature_scopes_cover_every_call(feature: Feature) -> None:
    document, method_ids = CALLS[feature]
    scopes_of = dict(_methods(json.loads((DOCUMENTS / f"{document}.json").read_text())))
    for method_id in method_ids:
        assert set(FEATURE_SCOPES[feature]) & set(scopes_of[method_id]), method_id


def test_no_restricted_broad_scopes() -> None:
    broad = {"https://mail.google.com/", "https://www.googleapis.com/auth/drive"}
    assert not broad & {s for scopes in FEATURE_SCOPES.values() for s in scopes}


def test_granted_features_follow_partial_consent() -> None:
    granted = normalize(
        "openid https://www.googleapis.com/auth/userinfo.email "
        "https://www.googleapis.com/auth/gmail.metadata"
    )
    assert "email" in granted
    assert granted_features(granted) == [Feature.GMAIL]
