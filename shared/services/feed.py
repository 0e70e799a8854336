"""The activity feed the app reads: newest first, paged, optionally only since a time."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from shared import doc_ids
from shared.activity import ActivityItem, Category
from shared.errors import AppError, ErrorCode
from shared.instants import Instant, to_utc


class FeedQuery(BaseModel):
    """Query string of ``GET /v1/activity``."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    limit: int = Field(default=50, ge=1, le=200)
    since: Instant | None = Field(default=None, description="Only items created after this.")
    category: Category | None = None
    page_token: str | None = Field(default=None, max_length=512)


class FeedPage(BaseModel):
    """One page of the feed."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    items: list[ActivityItem]
    next_page_token: str | None = None


class FeedReader(Protocol):
    """Port: reads feed items newest first, after an optional (created_at, id) position."""

    def read(
        self,
        uid: str,
        limit: int,
        since: datetime | None,
        category: Category | None,
        after: tuple[datetime, str] | None,
    ) -> list[ActivityItem]: ...


def _encode(item: ActivityItem) -> str:
    raw = json.dumps([item.created_at.isoformat(), item.id]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode(token: str) -> tuple[datetime, str]:
    """The (created_at, item id) position a token names; 400 for anything else."""
    try:
        created, item = json.loads(base64.urlsafe_b64decode(token.encode()))
        if not isinstance(created, str) or not doc_ids.is_valid(item):
            raise ValueError("not a position")
        return to_utc(datetime.fromisoformat(created)), item
    except (ValueError, TypeError, RecursionError, binascii.Error):
        raise AppError(
            ErrorCode.INVALID_REQUEST, "Invalid page token.", field="page_token"
        ) from None


def read_feed(uid: str, query: FeedQuery, reader: FeedReader) -> FeedPage:
    """A page of the caller's feed."""
    after = _decode(query.page_token) if query.page_token else None
    items = reader.read(uid, query.limit + 1, query.since, query.category, after)
    page, more = items[: query.limit], len(items) > query.limit
    return FeedPage(items=page, next_page_token=_encode(page[-1]) if more and page else None)
