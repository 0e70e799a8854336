"""Build the functions' deploy archive: main.py, functions/, shared/ and requirements.txt.

The archive is deterministic (sorted entries, fixed timestamps and modes, no caches), so its
sha256 changes only when the code or the locked dependencies change; Terraform names the
uploaded object by that hash. requirements.txt is exported from uv.lock, which Terraform
cannot do itself: run this before `terraform apply`. Prints the archive's sha256.

Usage: python scripts/build_source.py [--out DIR] [--uv PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "terraform" / ".build"
ARCHIVE_NAME = "source.zip"
SOURCE_FILES = ("main.py",)
SOURCE_DIRS = ("functions", "shared")
SKIPPED_DIRS = frozenset({"__pycache__"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
UV_EXPORT = (
    "export",
    "--frozen",
    "--no-dev",
    "--no-hashes",
    "--no-emit-project",
)


def find_uv(explicit: str | None = None) -> str:
    """The uv binary: --uv, then $UV, then the Makefile's .tools/uv, then PATH."""
    candidates = [explicit, os.environ.get("UV"), str(ROOT / ".tools" / "uv" / "bin" / "uv")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    found = shutil.which("uv")
    if found is None:
        raise SystemExit("uv not found: run `make setup`, or pass --uv PATH or set UV")
    return found


def export_requirements(uv: str, root: Path = ROOT) -> str:
    """Runtime requirements pinned by uv.lock (no dev group, no hashes, not the project)."""
    result = subprocess.run(  # noqa: S603 - fixed argument list, uv path chosen by the operator
        [uv, *UV_EXPORT],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def source_files(root: Path = ROOT) -> list[str]:
    """Archive paths (posix, relative to root) of the source files, sorted."""
    paths = [name for name in SOURCE_FILES if (root / name).is_file()]
    for directory in SOURCE_DIRS:
        paths.extend(_walk(root, root / directory))
    return sorted(paths)


def _walk(root: Path, directory: Path) -> Iterator[str]:
    for path in directory.rglob("*"):
        relative = path.relative_to(root)
        if any(part in SKIPPED_DIRS for part in relative.parts):
            continue
        if path.is_file() and not path.name.endswith(SKIPPED_SUFFIXES):
            yield relative.as_posix()


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    info.create_system = 3  # unix, so the mode above is honoured everywhere
    return info


def write_archive(destination: Path, requirements: str, root: Path = ROOT) -> str:
    """Write the archive atomically and return its sha256 (hex)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    entries = {name: (root / name).read_bytes() for name in source_files(root)}
    entries["requirements.txt"] = requirements.encode()
    fd, temporary = tempfile.mkstemp(dir=destination.parent, suffix=".zip.tmp")
    os.close(fd)
    try:
        with zipfile.ZipFile(temporary, "w") as archive:
            for name in sorted(entries):
                archive.writestr(_entry(name), entries[name], compresslevel=9)
        os.replace(temporary, destination)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return hashlib.sha256(destination.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    """Build the archive and print its sha256."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument("--uv", default=None, help="uv binary (default: $UV, .tools/uv, PATH)")
    args = parser.parse_args(argv)
    requirements = export_requirements(find_uv(args.uv))
    archive = Path(args.out) / ARCHIVE_NAME
    digest = write_archive(archive, requirements)
    print(f"{digest}  {archive}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
