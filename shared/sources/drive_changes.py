"""What a Drive change means for the user: created, renamed, moved, content changed,
trashed, restored, deleted, or nothing they could see.

The Changes API gives a file's *current* state per change, not what changed
(https://developers.google.com/drive/api/guides/manage-changes), and a newer change of a file
replaces the older one. So the meaning comes from comparing with what the last passes saw:
the Drive cursor keeps an index ``file id → seen state`` (hashes of the name and the parents,
and the trashed flag; never names), bounded to ``MAX_INDEX`` files (the least recently
changed are forgotten first).

Rules, in this order (one kind per change):

- **removed** (permanently deleted, or access lost; the change has no file): ``deleted`` if we
  had seen the file, else nothing (it appeared and disappeared between two passes, or we never
  saw it).
- **not seen before**: ``created`` when Drive created it after the last pass (``createdTime``
  after ``last_pass - CREATED_MARGIN``), whatever its ``modifiedTime`` (an upload keeps the
  file's own; a new Doc may be typed into before we read it); a new file already in the trash
  is nothing (appeared and disappeared). An older file we had not seen is ``changed``
  (``trashed`` if in the trash).
- **seen**: ``trashed`` / ``restored`` when the trashed flag flipped; else ``moved`` when the
  parents changed; else ``renamed`` when the name changed; else ``changed`` (content or other
  metadata: the API does not say which). A change to a file that stays in the trash is
  nothing.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.activity import Kind

# Clock skew between Google's createdTime and our pass times, plus Drive's change-log lag.
CREATED_MARGIN = timedelta(minutes=5)
# Files remembered in the cursor (a map in one Firestore document: ~90 bytes per file).
MAX_INDEX = 2000


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:12]


def seen_state(file: dict[str, Any], seen_at: datetime) -> str:
    """``"<seen epoch s>:<name hash>:<parents hash>:<t|f>"``: what the index keeps of a file."""
    name = _digest(str(file.get("name") or ""))
    parents = _digest(",".join(sorted(str(p) for p in file.get("parents") or [])))
    trashed = "t" if file.get("trashed") else "f"
    return f"{int(seen_at.timestamp())}:{name}:{parents}:{trashed}"


def _parts(state: str) -> tuple[int, str, str, bool]:
    seen, name, parents, trashed = state.split(":")
    return int(seen), name, parents, trashed == "t"


def meaning(
    change: dict[str, Any], index: dict[str, str], last_pass: datetime | None, now: datetime
) -> Kind | None:
    """The kind of one file change (None: nothing the user could see), updating ``index``."""
    file_id = str(change.get("fileId") or "")
    file = change.get("file")
    previous = index.pop(file_id, None)
    if change.get("removed") or not file:
        return Kind.DRIVE_DELETED if previous is not None else None
    current = seen_state(file, now)
    index[file_id] = current
    _, name, parents, trashed = _parts(current)
    if previous is None:
        created = _time(file.get("createdTime"))
        new = created is not None and (last_pass is None or created >= last_pass - CREATED_MARGIN)
        if trashed:
            return None if new else Kind.DRIVE_TRASHED
        return Kind.DRIVE_CREATED if new else Kind.DRIVE_CHANGED
    _, was_name, was_parents, was_trashed = _parts(previous)
    if trashed != was_trashed:
        return Kind.DRIVE_TRASHED if trashed else Kind.DRIVE_RESTORED
    if trashed:
        return None
    if parents != was_parents:
        return Kind.DRIVE_MOVED
    if name != was_name:
        return Kind.DRIVE_RENAMED
    return Kind.DRIVE_CHANGED


def bounded(index: dict[str, str]) -> dict[str, str]:
    """The index without its least recently seen files beyond ``MAX_INDEX``."""
    if len(index) <= MAX_INDEX:
        return index
    newest = sorted(index.items(), key=lambda entry: _parts(entry[1])[0], reverse=True)
    return dict(newest[:MAX_INDEX])
