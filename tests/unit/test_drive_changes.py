"""Drive classification by meaning: what each change is, from the file's state now and what
earlier passes saw."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.activity import Kind
from shared.sources.drive_changes import MAX_INDEX, bounded, meaning, seen_state

LAST_PASS = datetime(2026, 3, 4, 3, 0, tzinfo=UTC)
NOW = LAST_PASS + timedelta(minutes=10)


def _file(**changes: Any) -> dict[str, Any]:
    file = {
        "id": "f1",
        "name": "Budget.xlsx",
        "parents": ["root"],
        "trashed": False,
        "createdTime": "2026-03-04T03:05:00.000Z",  # after the last pass
        "modifiedTime": "2019-01-01T00:00:00.000Z",  # an upload keeps its own
    }
    return file | changes


def _change(file: dict[str, Any] | None) -> dict[str, Any]:
    change: dict[str, Any] = {"changeType": "file", "fileId": "f1", "time": "2026-03-04T03:06:00Z"}
    if file is None:
        return change | {"removed": True}
    return change | {"removed": False, "file": file}


def _seen(**changes: Any) -> dict[str, str]:
    return {"f1": seen_state(_file(**changes), LAST_PASS)}


def test_a_file_new_since_the_last_pass_is_created_whatever_its_modified_time() -> None:
    index: dict[str, str] = {}
    assert meaning(_change(_file()), index, LAST_PASS, NOW) is Kind.DRIVE_CREATED
    assert "f1" in index and "Budget" not in index["f1"]  # hashes only
    # Typed into before we read it: createdTime < modifiedTime, still created.
    typed = _file(modifiedTime="2026-03-04T03:09:00.000Z")
    assert meaning(_change(typed), {}, LAST_PASS, NOW) is Kind.DRIVE_CREATED


def test_an_old_file_we_had_not_seen_is_changed() -> None:
    old = _file(createdTime="2024-01-01T00:00:00.000Z")
    assert meaning(_change(old), {}, LAST_PASS, NOW) is Kind.DRIVE_CHANGED
    assert meaning(_change(old | {"trashed": True}), {}, LAST_PASS, NOW) is Kind.DRIVE_TRASHED


def test_renames_moves_content_trash_restore_and_removal_are_told_apart() -> None:
    cases = [
        (_file(name="Budget v2.xlsx"), Kind.DRIVE_RENAMED),
        (_file(parents=["folder-2"]), Kind.DRIVE_MOVED),
        (_file(modifiedTime="2026-03-04T03:09:00.000Z"), Kind.DRIVE_CHANGED),
        (_file(trashed=True), Kind.DRIVE_TRASHED),
        (None, Kind.DRIVE_DELETED),
    ]
    for file, kind in cases:
        assert meaning(_change(file), _seen(), LAST_PASS, NOW) is kind, kind
    assert meaning(_change(_file()), _seen(trashed=True), LAST_PASS, NOW) is Kind.DRIVE_RESTORED
    assert (
        meaning(_change(_file(trashed=True, name="x")), _seen(trashed=True), LAST_PASS, NOW) is None
    )


def test_a_file_that_appeared_and_disappeared_between_two_passes_is_nothing() -> None:
    index: dict[str, str] = {}
    assert meaning(_change(None), index, LAST_PASS, NOW) is None
    assert meaning(_change(_file(trashed=True)), index, LAST_PASS, NOW) is None
    # Removed after we saw it: deleted, and forgotten.
    seen = _seen()
    assert meaning(_change(None), seen, LAST_PASS, NOW) is Kind.DRIVE_DELETED
    assert seen == {}


def test_the_index_keeps_the_most_recently_seen_files() -> None:
    index = {
        f"f{n}": seen_state(_file(), LAST_PASS + timedelta(seconds=n)) for n in range(MAX_INDEX + 5)
    }
    kept = bounded(index)
    assert len(kept) == MAX_INDEX and "f0" not in kept and f"f{MAX_INDEX + 4}" in kept
