"""The activity feed item and the push job: the contract between the watch receivers,
the account API (feed) and push dispatch.

Feed items live at ``users/{uid}/activity/{item_id}`` with an ``expires_at`` TTL. A push
job names a feed item and carries no personal data: push dispatch reads the item (and the
user's preferences) when it sends, so a preference change applies to queued jobs too.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.doc_ids import DocId
from shared.instants import Instant


class Category(StrEnum):
    """Push and feed categories; each can be turned off by the user."""

    MAIL = "mail"
    DRIVE = "drive"
    CALENDAR = "calendar"
    ACCOUNT = "account"  # the state of the Google link; cannot be turned off


class Kind(StrEnum):
    """What happened."""

    MAIL_RECEIVED = "mail.received"
    DRIVE_CREATED = "drive.created"
    DRIVE_CHANGED = "drive.changed"  # content or other metadata (the API does not say which)
    DRIVE_RENAMED = "drive.renamed"
    DRIVE_MOVED = "drive.moved"
    DRIVE_TRASHED = "drive.trashed"
    DRIVE_RESTORED = "drive.restored"  # taken out of the trash
    DRIVE_DELETED = "drive.deleted"  # permanently deleted, or no longer shared with the user
    CALENDAR_CHANGED = "calendar.changed"
    CALENDAR_DELETED = "calendar.deleted"
    ACCOUNT_RELINK_REQUIRED = "account.relink_required"

    @property
    def category(self) -> Category:
        """The category this kind belongs to."""
        return Category(self.value.split(".", 1)[0])


ACTIVITY_RETENTION = timedelta(days=30)


def item_id(kind: Kind, resource_id: str, version: str) -> str:
    """Deterministic feed item id: the same change recorded twice is one item."""
    digest = hashlib.sha256(f"{kind.value}|{resource_id}|{version}".encode()).hexdigest()
    return digest[:32]


class ActivityItem(BaseModel):
    """One entry of the feed: the minimum a notification or the feed list needs."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    id: str
    kind: Kind
    category: Category
    resource_id: str = Field(description="Gmail message id, Drive file id or Calendar event id.")
    group_key: str = Field(description="Thread, file or calendar: collapses related pushes.")
    title: str | None = Field(default=None, description="Subject, file name or event title.")
    actor: str | None = Field(default=None, description="Sender or the person who changed it.")
    by_me: bool = Field(
        default=False,
        description="The user made this change themselves (Drive: Google's lastModifyingUser.me;"
        " Calendar: a write made through our calendar API). Pushed data-only unless the"
        " preference notify_own_changes is on.",
    )
    occurred_at: datetime
    created_at: datetime
    expires_at: datetime
    calendar_id: str | None = Field(
        default=None, description="Calendar items: the calendar the event belongs to."
    )
    change: str | None = Field(
        default=None,
        description="Calendar items: created, modified, moved, restored or cancelled.",
    )


class PushJob(BaseModel):
    """Message on the push-jobs topic: which feed item of which user to push."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    # Each becomes (part of) a Firestore document id: claims, users, feed items.
    job_id: DocId = Field(min_length=1, max_length=128)
    uid: DocId = Field(min_length=1, max_length=128)
    item_id: DocId = Field(min_length=1, max_length=64)
    kind: Kind
    created_at: Instant
    trace_id: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{32}$",
        description="Trace of the notification whose sync pass created the job: push "
        "dispatch logs under it, so one notification can be followed to its pushes.",
    )


def push_job_id(uid: str, item: str) -> str:
    """Deterministic job id: one job per (user, feed item), however often it is published."""
    return hashlib.sha256(f"{uid}|{item}".encode()).hexdigest()[:40]


def relink_item(uid: str, now: datetime) -> ActivityItem:
    """The feed item telling the app that Google refused our grant and the user must link
    again; one per user and hour however many calls found out."""
    hour = now.strftime("%Y-%m-%dT%H")
    kind = Kind.ACCOUNT_RELINK_REQUIRED
    return ActivityItem(
        id=item_id(kind, uid, hour),
        kind=kind,
        category=kind.category,
        resource_id="google",
        group_key="google-link",
        occurred_at=now,
        created_at=now,
        expires_at=now + ACTIVITY_RETENTION,
    )
