"""A simulated fleet of linked accounts, written straight into Firestore and the fake Google
(its bulk control route), as thousands of completed links would have left them.

Every account is due for one full maintenance cycle: its Gmail watch needs its daily
re-watch, its Drive channel expires within the hour (renewal), every source is due for a
reconcile, and every tenth account's Calendar channel failed (repair).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from google.cloud.firestore import Client

from shared.firestore import Collections
from shared.ports.sync import SourceKind, SyncKey
from shared.scopes import ALL_SCOPES
from shared.vault import TokenVault

CHUNK = 1000  # users per bulk call to the fake
BATCH = 496  # documents per Firestore batch (8 per account, under the 500-write limit)


def fake_users(fake_google: str, prefix: str, count: int) -> Iterator[dict[str, Any]]:
    """Create ``count`` linked Google users at the fake; yields each with its tokens and
    cursors."""
    for start in range(0, count, CHUNK):
        response = requests.post(
            f"{fake_google}/_control/bulk/linked_users",
            json={
                "prefix": prefix,
                "start": start,
                "count": min(CHUNK, count - start),
                "scopes": list(ALL_SCOPES),
                "token_lifetime_seconds": 6 * 3600,
            },
            timeout=300,
        )
        response.raise_for_status()
        yield from response.json()["users"]


def _documents(
    user: dict[str, Any], index: int, vault: TokenVault, now: datetime
) -> list[tuple[str, dict[str, Any]]]:
    uid = f"uid-{user['sub']}"
    past = now - timedelta(seconds=1)
    upkeep = {
        "watch_status": "active",
        "watch_failures": 0,
        "watch_started_at": now - timedelta(days=2),
        "reconcile_at": past,
        "reconcile_every_s": 8 * 3600,
        "due_at": past,
        "dirty": False,
        "last_synced_at": now - timedelta(hours=2),
    }
    calendar_key = SyncKey(uid, SourceKind.CALENDAR, "primary")
    drive_channel, calendar_channel = f"scale-d-{index}", f"scale-c-{index}"
    repair = index % 10 == 0
    user_path = f"{Collections.USERS}/{uid}"
    cursors = f"{user_path}/{Collections.CURSORS}"
    return [
        (
            user_path,
            {
                "google": {
                    "status": "linked",
                    "sub": user["sub"],
                    "scopes": list(ALL_SCOPES),
                    "linked_at": now - timedelta(days=30),
                    "updated_at": now - timedelta(days=30),
                }
            },
        ),
        (
            f"{user_path}/{Collections.SECRETS}/google",
            {
                "refresh_token": vault.seal(uid, user["refresh_token"]),
                "access_token": vault.seal(uid, user["access_token"]),
                "access_expires_at": datetime.fromtimestamp(user["access_expires_at"], UTC),
                "updated_at": now,
            },
        ),
        (f"{Collections.GOOGLE_ACCOUNTS}/{user['sub']}", {"uid": uid, "linked_at": now}),
        (
            f"{cursors}/gmail",
            {
                "uid": uid,
                "source": "gmail",
                "calendar_id": None,
                "cursor": user["gmail_history_id"],
                "index": None,
                "watch_expires_at": now + timedelta(days=5),  # the daily re-watch is due
                **upkeep,
            },
        ),
        (
            f"{cursors}/drive",
            {
                "uid": uid,
                "source": "drive",
                "calendar_id": None,
                "cursor": user["drive_page_token"],
                "index": None,
                "channel_id": drive_channel,
                "channel_expires_at": now + timedelta(hours=1),  # renewal is due
                **upkeep,
            },
        ),
        (
            f"{cursors}/{calendar_key.doc_id}",
            {
                "uid": uid,
                "source": "calendar",
                "calendar_id": "primary",
                "cursor": user["calendar_sync_token"],
                "index": {},
                "channel_id": calendar_channel,
                "channel_expires_at": now + timedelta(days=6),
                **upkeep,
                **(
                    {"watch_status": "repairing", "watch_failures": 1, "repair_at": past}
                    if repair
                    else {}
                ),
            },
        ),
        (
            f"{Collections.CHANNELS}/{drive_channel}",
            {
                "uid": uid,
                "source": "drive",
                "resource_id": "scale",
                "secret_hash": "0" * 64,
                "expires_at": now + timedelta(hours=1),
                "calendar_id": "",
            },
        ),
        (
            f"{Collections.CHANNELS}/{calendar_channel}",
            {
                "uid": uid,
                "source": "calendar",
                "resource_id": "scale",
                "secret_hash": "0" * 64,
                "expires_at": now + timedelta(days=6),
                "calendar_id": "primary",
            },
        ),
    ]


def seed(db: Client, fake_google: str, vault: TokenVault, prefix: str, count: int) -> list[str]:
    """Create ``count`` linked accounts; their uids."""
    now = datetime.now(UTC)
    documents: list[tuple[str, dict[str, Any]]] = []
    uids = []
    for index, user in enumerate(fake_users(fake_google, prefix, count)):
        uids.append(f"uid-{user['sub']}")
        documents += _documents(user, index, vault, now)

    def commit(chunk: list[tuple[str, dict[str, Any]]]) -> None:
        batch = db.batch()
        for path, data in chunk:
            batch.set(db.document(path), data)
        batch.commit()

    chunks = [documents[i : i + BATCH] for i in range(0, len(documents), BATCH)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(commit, chunks))
    return uids
