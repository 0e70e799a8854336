"""In-memory fakes of our ports for the in-process function tier.

Each fake implements one or more ``Protocol``s of ``shared/ports`` or of a service module,
keeps its state in dicts and notes every write and every Google call in a shared
``Journal``, so a test can assert that a rejected input changed nothing and reached no
Google port. Nothing here touches the network, Firestore or the Google libraries.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from shared.activity import (
    ACTIVITY_RETENTION,
    ActivityItem,
    Category,
    Kind,
    PushJob,
    item_id,
    push_job_id,
)
from shared.errors import AppError, ErrorCode
from shared.google_errors import GoogleFailure
from shared.ports.identity import Caller
from shared.ports.maintenance import DueSource
from shared.ports.sync import (
    CursorState,
    IndexWrite,
    RequestResult,
    SourceKind,
    SyncBatch,
    SyncKey,
)
from shared.ports.watches import Channel, ChannelRequest, WatchGrant
from shared.scopes import FEATURE_SCOPES, Feature, normalize
from shared.services.account import GoogleLink
from shared.services.devices import Device
from shared.services.linking import (
    Grant,
    LinkResult,
    LinkStatusView,
    PendingCompletion,
    PendingLink,
    features_of,
)
from shared.services.preferences import Preferences
from shared.services.push import ClaimEnd, PushMessage, SendResult, SendStatus
from shared.sources.calendar import MARK_EXPIRY_FIELD, MARKS_FIELD, OWN_MARK_RETENTION


@dataclass
class Journal:
    """What the fakes were asked to do: store writes and Google calls, in order."""

    writes: list[str] = field(default_factory=list)
    google: list[str] = field(default_factory=list)

    def clear(self) -> None:
        """Forget what the test's own setup did."""
        self.writes.clear()
        self.google.clear()


class Unreachable:
    """Stands in for a real client (Firestore, the Google gateway): any use fails the test."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        raise AssertionError(f"{self._name}.{attribute} used by a function under test")


# Identity


class FakeAuthenticator:
    """``shared.http.Authenticator`` and the user deletion of ``shared.auth``: a table of
    ID tokens. Like ``verify_id_token(check_revoked=True)``, the tokens of a deleted user
    are refused from then on."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self.tokens: dict[str, Caller] = {}
        self.deleted: list[str] = []
        self.down = False  # Firebase Auth does not answer

    def add(self, uid: str) -> str:
        """A valid ID token for a new user ``uid``."""
        token = f"id-token-{uid}"
        self.tokens[token] = Caller(uid=uid, email=f"{uid}@example.com", name=uid.title())
        return token

    def verify(self, token: str) -> Caller:
        caller = self.tokens.get(token)
        if caller is None:
            raise AppError(ErrorCode.UNAUTHENTICATED, "Invalid ID token.")
        return caller

    def delete_user(self, uid: str) -> None:
        """Delete the user: its tokens stop working (idempotent); 503 when Auth is down."""
        self._journal.google.append("auth.delete_user")
        if self.down:
            raise AppError(
                ErrorCode.GOOGLE_UNAVAILABLE, "Firebase Auth is unavailable.", retry_after=5
            )
        self.deleted.append(uid)
        self.tokens = {token: c for token, c in self.tokens.items() if c.uid != uid}


# Linking


class FakeVault:
    """``linking.Vault``: reversible, bound to the uid (no cryptography needed here)."""

    def seal(self, uid: str, plaintext: str) -> str:
        return f"sealed:{uid}:{plaintext}"

    def open(self, uid: str, sealed: str) -> str:
        prefix = f"sealed:{uid}:"
        if not sealed.startswith(prefix):
            raise ValueError("sealed for another user")
        return sealed.removeprefix(prefix)


class FakeOAuth:
    """``linking.OAuthServer``: codes the test registers become grants."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self.grants: dict[str, Grant] = {}
        self.failure: AppError | None = None
        self.verifiers: list[str | None] = []
        self.revoked: list[str] = []

    def authorization_url(self, state: str, verifier: str, *, force_consent: bool) -> str:
        query = {"state": state, "prompt": "consent" if force_consent else "none"}
        return "https://accounts.google.test/o/oauth2/v2/auth?" + urlencode(query)

    def add_code(
        self,
        code: str,
        sub: str,
        features: Iterable[Feature] = tuple(Feature),
        *,
        nonce: str | None = None,
    ) -> None:
        """Make ``code`` redeemable for a grant of ``features`` by Google account ``sub``;
        ``nonce`` is the nonce claim of the ID token Google returns (native sign-in)."""
        scopes = ["email", "openid", "profile"]
        for feature in features:
            scopes += FEATURE_SCOPES[feature]
        self.grants[code] = Grant(
            sub=sub,
            scopes=normalize(scopes),
            refresh_token=f"refresh-{sub}",
            access_token=f"access-{sub}",
            access_expires_at=datetime.now(UTC) + timedelta(hours=1),
            nonce=nonce,
        )

    def exchange(self, code: str, verifier: str | None, *, native: bool) -> Grant:
        self._journal.google.append("oauth.token")
        if self.failure is not None:
            raise self.failure
        self.verifiers.append(verifier)
        grant = self.grants.pop(code, None)  # a code is single use at Google
        if grant is None:
            raise AppError(
                ErrorCode.INVALID_REQUEST, "Google rejected the authorization code.", field="code"
            )
        return grant

    def revoke(self, token: str) -> None:
        self._journal.google.append("oauth.revoke")
        self.revoked.append(token)


_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def _hash_only(key: str) -> str:
    """Document ids of states, nonces and completion codes are their SHA-256 (as in
    ``FirestoreLinkStore``): a store asked to keep anything else fails the test."""
    assert _SHA256_HEX.fullmatch(key), "a one-time secret reached the store unhashed"
    return key


class MemoryLinks:
    """``linking.LinkStore`` and ``account.UserRecords`` over dicts, with the rules of
    ``FirestoreLinkStore``: pending links and completions keyed by hash only and created
    once, a pending link consumed once, a completion taken (deleted) once, one Google
    account per user and one user per Google account, and every record of a user deleted
    with their Google data."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self.pending: dict[str, PendingLink] = {}
        self.completions: dict[str, PendingCompletion] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.secrets: dict[str, dict[str, str]] = {}
        self.accounts: dict[str, str] = {}

    def _write(self, what: str) -> None:
        self._journal.writes.append(f"links.{what}")

    def link(self, uid: str, sub: str, features: Iterable[Feature] = tuple(Feature)) -> None:
        """Test setup: ``uid`` is linked to Google account ``sub`` with ``features``."""
        scopes = ["email", "openid", "profile"]
        for feature in features:
            scopes += FEATURE_SCOPES[feature]
        now = datetime.now(UTC)
        self.users[uid] = {
            "status": "linked",
            "sub": sub,
            "scopes": normalize(scopes),
            "linked_at": now,
        }
        self.secrets[uid] = {"refresh_token": f"sealed:{uid}:refresh-{sub}"}
        self.accounts[sub] = uid

    def save_pending(self, state_hash: str, pending: PendingLink) -> None:
        if _hash_only(state_hash) in self.pending:
            raise AssertionError("pending link created twice (Firestore create would fail)")
        self._write("save_pending")
        self.pending[state_hash] = dataclasses.replace(pending, consumed=False)

    def consume_pending(self, state_hash: str) -> PendingLink | None:
        found = self.pending.get(state_hash)
        if found is not None and not found.consumed:
            self._write("consume_pending")
            self.pending[state_hash] = dataclasses.replace(found, consumed=True)
        return found

    def save_completion(self, code_hash: str, completion: PendingCompletion) -> None:
        if _hash_only(code_hash) in self.completions:
            raise AssertionError("completion created twice (Firestore create would fail)")
        self._write("save_completion")
        self.completions[code_hash] = completion

    def take_completion(self, code_hash: str) -> PendingCompletion | None:
        found = self.completions.pop(code_hash, None)
        if found is not None:
            self._write("take_completion")
        return found

    def expired_completions(self, now: datetime, limit: int) -> list[str]:
        expired = [key for key, kept in self.completions.items() if kept.expires_at <= now]
        return expired[:limit]

    def is_linked_account(self, sub: str) -> bool:
        return sub in self.accounts

    def has_refresh_token(self, uid: str) -> bool:
        return bool(self.secrets.get(uid, {}).get("refresh_token"))

    def save_link(
        self, uid: str, grant: Grant, sealed_refresh: str | None, sealed_access: str, now: datetime
    ) -> LinkResult:
        owner = self.accounts.get(grant.sub)
        if owner is not None and owner != uid:
            return LinkResult.ACCOUNT_IN_USE
        google = self.users.get(uid, {})
        same = google.get("sub") == grant.sub
        refresh = sealed_refresh or (
            self.secrets.get(uid, {}).get("refresh_token") if same else None
        )
        if refresh is None:
            return LinkResult.NO_REFRESH_TOKEN
        self._write("save_link")
        if google.get("sub") and not same:  # a re-link to another Google account frees the old
            self.accounts.pop(google["sub"], None)
        self.accounts[grant.sub] = uid
        self.users[uid] = {
            "status": "linked",
            "sub": grant.sub,
            "scopes": grant.scopes,
            "linked_at": google.get("linked_at") if same else now,
        }
        self.secrets[uid] = {"refresh_token": refresh, "access_token": sealed_access}
        return LinkResult.LINKED

    def link_status(self, uid: str) -> LinkStatusView:
        google = self.users.get(uid, {})
        status = google.get("status", "not_linked")
        scopes = list(google.get("scopes", [])) if status != "not_linked" else []
        return LinkStatusView(
            status=status,
            scopes=scopes,
            features=features_of(scopes) if status == "linked" else [],
            linked_at=google.get("linked_at"),
        )

    def google_link(self, uid: str) -> GoogleLink | None:
        if uid not in self.users:
            return None
        view = self.link_status(uid)
        return GoogleLink.model_validate({"status": view.status, "scopes": view.scopes})

    def sealed_refresh_token(self, uid: str) -> str | None:
        return self.secrets.get(uid, {}).get("refresh_token")

    def delete_google_data(self, uid: str) -> None:
        self._write("delete_google_data")
        self.secrets.pop(uid, None)
        # The collections FirestoreLinkStore deletes by uid (``Collections.OWNED_BY_UID``).
        self.accounts = {sub: owner for sub, owner in self.accounts.items() if owner != uid}
        self.pending = {key: kept for key, kept in self.pending.items() if kept.uid != uid}
        self.completions = {key: kept for key, kept in self.completions.items() if kept.uid != uid}
        if uid in self.users:
            self.users[uid] = {"status": "not_linked"}

    def delete_everything(self, uid: str) -> None:
        self._write("delete_everything")
        self.delete_google_data(uid)
        self.users.pop(uid, None)

    def export(self, uid: str) -> dict[str, object]:
        profile = {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in self.users.get(uid, {}).items()
        }
        return {"uid": uid, "profile": {"google": profile}, "collections": {}}

    def mark_relink_required(self, uid: str) -> None:
        """What the credentials adapter records when Google refuses the grant."""
        self._write("mark_relink_required")
        self.users.setdefault(uid, {})["status"] = "relink_required"
        self.secrets.pop(uid, None)


class FakeCredentials:
    """The gateway's ``CredentialSource``: the same rules as the Firestore-backed provider
    (not linked → 409, re-link → 401, missing scope → 403), with Google's refresh faked."""

    def __init__(
        self, links: MemoryLinks, journal: Journal, after_relink: Callable[[str], None]
    ) -> None:
        self._links = links
        self._journal = journal
        self._after_relink = after_relink
        self.refused: set[str] = set()  # users whose grant Google refuses (invalid_grant)
        self.down = False  # Google's token endpoint does not answer

    def for_user(
        self, uid: str, feature: Feature | None = None, *, force_refresh: bool = False
    ) -> str:
        google = self._links.users.get(uid, {})
        status = google.get("status", "not_linked")
        if status == "relink_required":
            raise AppError(ErrorCode.GOOGLE_RELINK_REQUIRED, "Link your Google account again.")
        if status != "linked":
            raise AppError(ErrorCode.GOOGLE_NOT_LINKED, "No Google account is linked.")
        if feature is not None and not set(google["scopes"]).issuperset(FEATURE_SCOPES[feature]):
            raise AppError(ErrorCode.SCOPE_NOT_GRANTED, "The Google permission was not granted.")
        if not force_refresh:
            return f"access-{uid}"
        self._journal.google.append("oauth.refresh")
        if self.down:
            raise AppError(ErrorCode.GOOGLE_UNAVAILABLE, "Google did not answer.", retry_after=5)
        if uid in self.refused:
            self.mark_relink_required(uid)
            raise AppError(ErrorCode.GOOGLE_RELINK_REQUIRED, "Link your Google account again.")
        return f"access-{uid}-refreshed"

    def mark_relink_required(self, uid: str) -> None:
        self._links.mark_relink_required(uid)
        self._after_relink(uid)


# The watch half


class MemoryChannels:
    """``ChannelStore``: channels by id and Gmail address routing."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self.channels: dict[str, Channel] = {}
        self.gmail: dict[str, str] = {}

    def save(self, channel: Channel) -> None:
        self._journal.writes.append("channels.save")
        self.channels[channel.id] = channel

    def get(self, channel_id: str) -> Channel | None:
        return self.channels.get(channel_id)

    def delete(self, channel_id: str) -> None:
        self._journal.writes.append("channels.delete")
        self.channels.pop(channel_id, None)

    def of_user(self, uid: str) -> list[Channel]:
        return [channel for channel in self.channels.values() if channel.uid == uid]

    def route_gmail(self, address: str, uid: str) -> None:
        self._journal.writes.append("channels.route_gmail")
        self.gmail[address.strip().lower()] = uid

    def gmail_owner(self, address: str) -> str | None:
        return self.gmail.get(address.strip().lower())


class MemorySyncStore:
    """``SyncStore``, ``CursorRecords`` and ``FeedRecorder`` (the sync store adapter's
    ports), plus the two feed readers (the account API's and push dispatch's)."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self.cursors: dict[tuple[str, str], dict[str, Any]] = {}
        self.event_records: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        # (owner, until, delivery that started the run)
        self.leases: dict[tuple[str, str], tuple[str, datetime, str | None]] = {}
        self.activity: dict[str, dict[str, ActivityItem]] = {}
        self.outboxes: dict[str, dict[str, PushJob]] = {}

    def _write(self, what: str) -> None:
        self._journal.writes.append(f"sync.{what}")

    @staticmethod
    def _id(key: SyncKey) -> tuple[str, str]:
        return key.uid, key.doc_id

    # SyncStore

    def request(
        self,
        key: SyncKey,
        owner: str,
        now: datetime,
        lease: timedelta,
        pushed: int | None,
        delivery: str | None = None,
        notified_at: datetime | None = None,
    ) -> tuple[RequestResult, CursorState | None]:
        cursor = self.cursors.get(self._id(key))
        if cursor is None:
            return RequestResult.UNKNOWN, None
        stored = str(cursor.get("cursor"))
        if pushed is not None and stored.isdigit() and pushed <= int(stored):
            return RequestResult.STALE, None
        held = self.leases.get(self._id(key))
        redelivered = held is not None and delivery is not None and held[2] == delivery
        if held is None or held[1] <= now or redelivered:
            self._write("lease")  # taking the lease starts the first pass
            self.leases[self._id(key)] = (owner, now + lease, delivery)
            cursor["dirty"] = False
            if notified_at is not None:
                cursor["last_notified_at"] = notified_at
            # The fake keeps every job in the user's outbox; the adapter keeps a pass's jobs
            # with the cursor. Either way the run publishes them first.
            pending = list(self.outboxes.get(key.uid, {}).values())
            return RequestResult.RUN, CursorState(
                cursor.get("cursor"), cursor.get("index"), pending=pending
            )
        self._write("dirty")
        cursor["dirty"] = True
        return RequestResult.QUEUED, None

    def _holds(self, key: SyncKey, owner: str) -> bool:
        held = self.leases.get(self._id(key))
        return held is not None and held[0] == owner

    def commit(
        self,
        key: SyncKey,
        started_from: CursorState,
        items: list[ActivityItem],
        cursor: CursorState | None,
        now: datetime,
        records: Sequence[IndexWrite] = (),
    ) -> list[PushJob] | None:
        stored = self.cursors.get(self._id(key))
        if stored is None or stored.get("cursor") != started_from.cursor:
            return None
        jobs = self.record(key.uid, items, now)
        self._records(key, records)
        if cursor is not None:
            self._write("cursor")
            stored.update(cursor=cursor.cursor, last_synced_at=now)
            if cursor.index is not None:
                stored["index"] = cursor.index
        return jobs

    def commit_last(
        self,
        key: SyncKey,
        started_from: CursorState,
        items: list[ActivityItem],
        cursor: CursorState,
        now: datetime,
        records: Sequence[IndexWrite],
    ) -> tuple[list[PushJob] | None, CursorState | None]:
        jobs = self.commit(key, started_from, items, cursor, now, records)
        return jobs, (None if jobs is None else CursorState(cursor.cursor, cursor.index, now))

    def finish_pass(
        self,
        key: SyncKey,
        owner: str,
        now: datetime,
        lease: timedelta,
        after: CursorState | None = None,
        published: Sequence[str] = (),
    ) -> CursorState | None:
        if published:
            self.clear_pending(key, published)
        if not self._holds(key, owner):
            return None
        stored = self.cursors.get(self._id(key), {})
        if stored.get("dirty"):
            self.leases[self._id(key)] = (owner, now + lease, self.leases[self._id(key)][2])
            stored["dirty"] = False  # the next pass starts
            return CursorState(stored.get("cursor"), stored.get("index"))
        self._write("release")
        del self.leases[self._id(key)]
        return None

    def release(self, key: SyncKey, owner: str) -> None:
        self._write("release")
        if self._id(key) in self.cursors:
            self.cursors[self._id(key)]["dirty"] = True
        if self._holds(key, owner):
            del self.leases[self._id(key)]

    def outbox(self, uid: str) -> list[PushJob]:
        return list(self.outboxes.get(uid, {}).values())

    def clear_pending(self, key: SyncKey, job_ids: Iterable[str]) -> None:
        self.clear_outbox(key.uid, job_ids)

    def clear_outbox(self, uid: str, job_ids: Iterable[str]) -> None:
        self._write("clear_outbox")
        for job_id in job_ids:
            self.outboxes.get(uid, {}).pop(job_id, None)

    # FeedRecorder

    def record(self, uid: str, items: list[ActivityItem], now: datetime) -> list[PushJob]:
        feed = self.activity.setdefault(uid, {})
        jobs = []
        for item in items:
            if item.id in feed:
                continue
            self._write("activity")
            feed[item.id] = item
            job = PushJob(
                job_id=push_job_id(uid, item.id),
                uid=uid,
                item_id=item.id,
                kind=item.kind,
                created_at=now,
            )
            self.outboxes.setdefault(uid, {})[job.job_id] = job
            jobs.append(job)
        return jobs

    # CursorRecords

    def save_cursor(self, key: SyncKey, cursor: CursorState, now: datetime, **extra: Any) -> None:
        self._write("save_cursor")
        self.event_records[self._id(key)] = {}
        self._records(key, cursor.records)
        self.cursors[self._id(key)] = {
            "uid": key.uid,
            "source": key.kind.value,
            "calendar_id": key.calendar_id or None,
            "cursor": cursor.cursor,
            "index": cursor.index,
            "dirty": False,
            "last_synced_at": now,
            **extra,
        }

    def _records(self, key: SyncKey, writes: Iterable[IndexWrite]) -> None:
        """As the adapter: a record is merged into the event's document (own marks kept,
        but for ``drop_marks``; a mark-only document's ``expires_at`` removed)."""
        stored = self.event_records.setdefault(self._id(key), {})
        for write in writes:
            self._write("event_record")
            if write.record is None:
                stored.pop(write.event_id, None)
                continue
            before = stored.get(write.event_id, {})
            marks = {
                mark: at
                for mark, at in (before.get(MARKS_FIELD) or {}).items()
                if mark not in write.drop_marks
            }
            stored[write.event_id] = {"id": write.event_id, **write.record}
            if marks:
                stored[write.event_id][MARKS_FIELD] = marks

    def mark_own(
        self, key: SyncKey, event_id: str, mark: str, now: datetime, replacing: str | None
    ) -> None:
        """As ``FirestoreOwnMarks.record``: the mark on the event's record, or a mark-only
        one; the mark ``replacing`` removed."""
        stored = self.event_records.setdefault(self._id(key), {})
        document = stored.setdefault(
            event_id, {"id": event_id, MARK_EXPIRY_FIELD: now + OWN_MARK_RETENTION}
        )
        marks = document.setdefault(MARKS_FIELD, {})
        marks[mark] = now
        if replacing is not None:
            marks.pop(replacing, None)

    def unmark_own(self, key: SyncKey, event_id: str, mark: str) -> None:
        """As ``FirestoreOwnMarks.withdraw``: the mark removed where the document exists."""
        document = self.event_records.get(self._id(key), {}).get(event_id)
        if document is not None:
            document.get(MARKS_FIELD, {}).pop(mark, None)

    def records_of(self, key: SyncKey, event_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        stored = self.event_records.get(self._id(key), {})
        return {event_id: stored[event_id] for event_id in event_ids if event_id in stored}

    def all_records(self, key: SyncKey) -> dict[str, dict[str, Any]]:
        return dict(self.event_records.get(self._id(key), {}))

    def calendars_of(self, uid: str) -> set[str]:
        return {
            str(data.get("calendar_id"))
            for data in self.cursors.values()
            if data.get("uid") == uid and data.get("source") == SourceKind.CALENDAR.value
        }

    def forget(self, key: SyncKey) -> None:
        self._write("forget")
        self.cursors.pop(self._id(key), None)
        self.event_records.pop(self._id(key), None)

    def cursor_of(self, key: SyncKey) -> dict[str, Any] | None:
        found = self.cursors.get(self._id(key))
        return dict(found) if found is not None else None

    def set_watch_expiry(self, key: SyncKey, expires_at: datetime) -> None:
        self._write("watch_expiry")
        self.cursors[self._id(key)]["watch_expires_at"] = expires_at

    def set_upkeep(self, key: SyncKey, fields: dict[str, Any], create: bool = False) -> bool:
        stored = self.cursors.get(self._id(key))
        if stored is None and not create:
            return False
        self._write("upkeep")
        if stored is None:
            identity = {"uid": key.uid, "source": key.kind.value}
            stored = self.cursors[self._id(key)] = {
                **identity,
                "calendar_id": key.calendar_id or None,
            }
        stored.update(fields)
        return True

    def of_user(self, uid: str) -> list[tuple[SyncKey, dict[str, Any]]]:
        return [(_key(data), dict(data)) for data in self.cursors.values() if data["uid"] == uid]

    # DueIndex (the token is the document as read: a claim needs it unchanged)

    def due(self, now: datetime, limit: int, after: DueSource | None) -> list[DueSource]:
        rows = sorted(
            (data["due_at"], key, dict(data))
            for key, data in self.cursors.items()
            if data.get("due_at") is not None and data["due_at"] <= now
        )
        if after is not None:
            rows = [row for row in rows if row[:2] > after.token[:2]]
        return [DueSource(_key(row[2]), row) for row in rows[:limit]]

    def claim(self, items: list[DueSource], cycle: str, until: datetime) -> list[SyncKey]:
        won = []
        for item in items:
            _, doc_key, seen = item.token
            if self.cursors.get(doc_key) == seen:
                self._write("claim")
                self.cursors[doc_key].update(due_at=until, claim=cycle)
                won.append(item.key)
        return won

    # Feed readers

    def read(
        self,
        uid: str,
        limit: int,
        since: datetime | None,
        category: Category | None,
        after: tuple[datetime, str] | None,
    ) -> list[ActivityItem]:
        now = datetime.now(UTC)
        items = sorted(
            self.activity.get(uid, {}).values(),
            key=lambda item: (item.created_at, item.id),
            reverse=True,
        )
        kept = [
            item
            for item in items
            if item.expires_at > now
            and (since is None or item.created_at > since)
            and (category is None or item.category is category)
            and (after is None or (item.created_at, item.id) < after)
        ]
        return kept[:limit]

    def item(self, uid: str, item_id: str) -> ActivityItem | None:
        return self.activity.get(uid, {}).get(item_id)


def _key(data: dict[str, Any]) -> SyncKey:
    return SyncKey(data["uid"], SourceKind(data["source"]), data.get("calendar_id") or "")


def activity(
    kind: Kind, resource_id: str, *, title: str | None = None, now: datetime | None = None
) -> ActivityItem:
    """A feed item as a source would produce it."""
    now = now or datetime.now(UTC)
    return ActivityItem(
        id=item_id(kind, resource_id, "v1"),
        kind=kind,
        category=kind.category,
        resource_id=resource_id,
        group_key=f"group-{resource_id}",
        title=title,
        actor="Someone",
        occurred_at=now,
        created_at=now,
        expires_at=now + ACTIVITY_RETENTION,
    )


class FakeSource:
    """``Source``: reads scripted batches; ``failure`` makes the next reads fail."""

    def __init__(self, kind: SourceKind, journal: Journal) -> None:
        self.kind = kind
        self._journal = journal
        self.batches: list[list[ActivityItem]] = []
        self.failure: Exception | None = None
        self.position = 100

    def _call(self, what: str) -> None:
        self._journal.google.append(f"{self.kind.value}.{what}")
        if self.failure is not None:
            raise self.failure

    def fetch(self, key: SyncKey, state: CursorState, now: datetime) -> SyncBatch:
        self._call("fetch")
        items = self.batches.pop(0) if self.batches else []
        self.position += len(items) + 1
        return SyncBatch(items=items, cursor=str(self.position))


class FakeMailbox(FakeSource):
    """Gmail: ``Source`` and ``MailboxWatch``."""

    def __init__(self, journal: Journal) -> None:
        super().__init__(SourceKind.GMAIL, journal)
        self.addresses: dict[str, str] = {}
        self.watched: dict[str, str] = {}

    def profile(self, uid: str) -> tuple[str, str]:
        self._call("profile")
        return self.addresses[uid], str(self.position)

    def watch(self, uid: str, topic: str) -> tuple[str, datetime]:
        self._call("watch")
        self.watched[uid] = topic
        return str(self.position), datetime.now(UTC) + timedelta(days=7)

    def stop(self, uid: str) -> None:
        self._call("stop")
        self.watched.pop(uid, None)


class FakeChannelSource(FakeSource):
    """Drive or Calendar: ``Source`` and ``ChannelSource``."""

    def __init__(self, kind: SourceKind, journal: Journal) -> None:
        super().__init__(kind, journal)
        self.open: dict[str, ChannelRequest] = {}
        self.calendars = ["primary"]  # the calendar list, like a new Google account's

    def start_cursor(self, key: SyncKey, now: datetime) -> CursorState:
        self._call("start_cursor")
        return CursorState(str(self.position))

    def followed_calendars(self, uid: str) -> list[str]:
        """The calendar list (``calendars``)."""
        self._call("calendar_list")
        return list(self.calendars)

    def watch(self, key: SyncKey, cursor: str | None, request: ChannelRequest) -> WatchGrant:
        self._call("watch")
        self.open[request.id] = request
        resource = hashlib.sha256(f"{key.uid}{key.kind}{key.calendar_id}".encode()).hexdigest()
        return WatchGrant(
            resource_id=resource[:24], expires_at=datetime.now(UTC) + timedelta(days=7)
        )

    def stop(self, uid: str, channel_id: str, resource_id: str) -> None:
        self._call("stop")
        self.open.pop(channel_id, None)


class RecordingPublisher:
    """``JobPublisher``: keeps the published jobs."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self.published: list[PushJob] = []

    def publish(self, jobs: list[PushJob]) -> None:
        self._journal.writes.append("pubsub.publish")
        self.published += jobs


class RecordingQueue:
    """``WorkQueue``: keeps the published maintenance messages (work or tick topic)."""

    def __init__(self, journal: Journal, topic: str) -> None:
        self._journal = journal
        self._topic = topic
        self.bodies: list[dict[str, Any]] = []

    def publish(self, bodies: list[dict[str, Any]]) -> None:
        self._journal.writes.append(f"{self._topic}.publish")
        self.bodies += bodies


# Calendar


class MemoryCalendar:
    """``CalendarGateway``: Google Calendar's event semantics over a dict (etags, 404 for
    unknown ids, 409 for a taken id, 410 for a deleted one, 412 for a stale ``If-Match``).
    ``failures`` are raised, in order, by the next calls."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self.events: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.failures: list[Exception] = []
        self._version = 0

    def _call(self, what: str) -> None:
        self._journal.google.append(f"calendar.{what}")
        if self.failures:
            raise self.failures.pop(0)

    def _stamp(self, event: dict[str, Any]) -> dict[str, Any]:
        self._version += 1
        event["etag"] = f'"{self._version}"'
        return dict(event)

    def _existing(self, uid: str, calendar_id: str, event_id: str) -> dict[str, Any]:
        event = self.events.get((uid, calendar_id, event_id))
        if event is None:
            raise GoogleFailure(404, "notFound")
        return event

    def list_calendars(self, uid: str, page_token: str | None) -> dict[str, Any]:
        self._call("calendarList.list")
        return {"items": [{"id": "primary", "summary": "Mine", "primary": True}]}

    def list_events(self, uid: str, calendar_id: str, params: dict[str, Any]) -> dict[str, Any]:
        self._call("events.list")
        items = [
            dict(event)
            for (owner, calendar, _), event in self.events.items()
            if owner == uid and calendar == calendar_id and event.get("status") != "cancelled"
        ]
        return {"items": items[: params["maxResults"]]}

    def list_instances(
        self, uid: str, calendar_id: str, event_id: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        self._call("events.instances")
        return {"items": [dict(self._existing(uid, calendar_id, event_id))]}

    def get_event(self, uid: str, calendar_id: str, event_id: str) -> dict[str, Any]:
        self._call("events.get")
        return dict(self._existing(uid, calendar_id, event_id))

    def insert_event(
        self, uid: str, calendar_id: str, body: dict[str, Any], **options: Any
    ) -> dict[str, Any]:
        self._call("events.insert")
        key = (uid, calendar_id, body["id"])
        if key in self.events:
            raise GoogleFailure(409, "duplicate")
        self.events[key] = {**body, "status": "confirmed"}
        return self._stamp(self.events[key])

    def patch_event(
        self,
        uid: str,
        calendar_id: str,
        event_id: str,
        body: dict[str, Any],
        *,
        if_match: str | None,
        **options: Any,
    ) -> dict[str, Any]:
        self._call("events.patch")
        event = self._existing(uid, calendar_id, event_id)
        if if_match is not None and if_match != event["etag"]:
            raise GoogleFailure(412, "conditionNotMet")
        event.update(body)
        return self._stamp(event)

    def delete_event(
        self, uid: str, calendar_id: str, event_id: str, *, if_match: str | None, **options: Any
    ) -> None:
        self._call("events.delete")
        event = self._existing(uid, calendar_id, event_id)
        if event.get("status") == "cancelled":
            raise GoogleFailure(410, "deleted")
        if if_match is not None and if_match != event["etag"]:
            raise GoogleFailure(412, "conditionNotMet")
        event["status"] = "cancelled"
        self._stamp(event)


# Push


def device(device_id: str, *, last_seen: datetime | None = None, locale: str = "ko-KR") -> Device:
    """A registered device whose token is derived from its id."""
    seen = last_seen or datetime.now(UTC)
    return Device(
        device_id=device_id,
        token=f"fcm-{device_id}-" + "t" * 32,
        platform="android",
        os_version="14",
        app_version="1.0",
        model="Pixel",
        locale=locale,
        created_at=seen,
        last_seen_at=seen,
    )


class MemoryDevices:
    """``DeviceStore`` (and push's ``DeviceLister``): one record per install, one per token."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self.devices: dict[str, dict[str, Device]] = {}

    def upsert(self, uid: str, device: Device) -> tuple[Device, bool]:
        self._journal.writes.append("devices.upsert")
        for owner, mine in self.devices.items():
            for other in list(mine.values()):
                same_slot = owner == uid and other.device_id == device.device_id
                if other.token == device.token and not same_slot:
                    del mine[other.device_id]
        mine = self.devices.setdefault(uid, {})
        previous = mine.get(device.device_id)
        if previous is not None:
            device = Device(**{**device.__dict__, "created_at": previous.created_at})
        mine[device.device_id] = device
        return device, previous is None

    def of_user(self, uid: str) -> list[Device]:
        return list(self.devices.get(uid, {}).values())

    def delete(
        self,
        uid: str,
        device_id: str,
        *,
        token_hash: str | None = None,
        seen_before: datetime | None = None,
    ) -> bool:
        device = self.devices.get(uid, {}).get(device_id)
        if device is None:
            return False
        if token_hash is not None and device.token_hash != token_hash:
            return False
        if seen_before is not None and device.last_seen_at >= seen_before:
            return False
        self._journal.writes.append("devices.delete")
        del self.devices[uid][device_id]
        return True

    def stale(self, cutoff: datetime, limit: int) -> list[tuple[str, str]]:
        found = [
            (device.last_seen_at, uid, device.device_id)
            for uid, mine in self.devices.items()
            for device in mine.values()
            if device.last_seen_at < cutoff
        ]
        return [(uid, device_id) for _, uid, device_id in sorted(found)[:limit]]


class MemoryPreferences:
    """``PreferenceStore``."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self.stored: dict[str, Preferences] = {}

    def get(self, uid: str) -> Preferences | None:
        return self.stored.get(uid)

    def put(self, uid: str, preferences: Preferences) -> None:
        self._journal.writes.append("preferences.put")
        self.stored[uid] = preferences


class MemoryClaims:
    """``ClaimStore``: (job, device) send records; a released record is deleted."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self.claims: dict[tuple[str, str], str] = {}

    def claim(self, job: PushJob, device_ids: Sequence[str], now: datetime) -> list[str]:
        ours = [d for d in device_ids if (job.job_id, d) not in self.claims]
        for device_id in ours:
            self._journal.writes.append("claims.claim")
            self.claims[(job.job_id, device_id)] = "sent"
        return ours

    def settle(self, job: PushJob, ends: Mapping[str, ClaimEnd | None], now: datetime) -> None:
        self._journal.writes.append("claims.settle")
        for device_id, end in ends.items():
            if end is None:
                self.claims.pop((job.job_id, device_id), None)
            else:
                self.claims[(job.job_id, device_id)] = end


class FakeFcm:
    """``PushSender``: every token is delivered unless the test marks it otherwise."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self.sent: list[tuple[PushMessage, str]] = []
        self.answers: dict[str, SendResult] = {}

    def send(self, message: PushMessage, tokens: Sequence[str]) -> list[SendResult]:
        self._journal.google.append("fcm.send")
        results = []
        for token in tokens:
            result = self.answers.get(token, SendResult(SendStatus.SENT))
            if result.status is SendStatus.SENT:
                self.sent.append((message, token))
            results.append(result)
        return results


class MemoryOwnChanges:
    """``OwnChangeStore``: marks of the user's own writes on the sync store's event records."""

    def __init__(self, journal: Journal, sync: MemorySyncStore) -> None:
        self._journal = journal
        self._sync = sync

    def record(
        self,
        uid: str,
        calendar_ids: Iterable[str],
        event_id: str,
        mark: str,
        now: datetime,
        *,
        replacing: str | None = None,
    ) -> None:
        self._journal.writes.append("own_changes.record")
        for calendar_id in dict.fromkeys(calendar_ids):
            key = SyncKey(uid, SourceKind.CALENDAR, calendar_id)
            self._sync.mark_own(key, event_id, mark, now, replacing)

    def withdraw(self, uid: str, calendar_ids: Iterable[str], event_id: str, mark: str) -> None:
        self._journal.writes.append("own_changes.withdraw")
        for calendar_id in dict.fromkeys(calendar_ids):
            self._sync.unmark_own(SyncKey(uid, SourceKind.CALENDAR, calendar_id), event_id, mark)
