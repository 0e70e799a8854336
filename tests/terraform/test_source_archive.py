"""The deploy archive built by scripts/build_source.py installs and imports cleanly.

Builds the archive, installs its requirements.txt into a fresh virtualenv (from PyPI; cached
under .tools/ by the requirements' hash, so only the first run waits), unzips it and imports
every entry point the way Cloud Functions does: from the archive root, without PRODUCTION.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import main

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build_source.py"
VENV_CACHE = ROOT / ".tools" / "source-venvs"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    path = out / "source.zip"
    assert result.stdout.split()[0] == hashlib.sha256(path.read_bytes()).hexdigest()
    return path


def test_archive_holds_only_the_source_and_requirements(archive: Path) -> None:
    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
        infos = zipped.infolist()
    assert names == sorted(names)
    assert "main.py" in names and "requirements.txt" in names
    for name in names:
        assert name in ("main.py", "requirements.txt") or name.startswith(
            ("functions/", "shared/")
        ), name
        assert "__pycache__" not in name and not name.endswith(".pyc"), name
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}


def test_archive_is_deterministic(archive: Path, tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    assert (tmp_path / "source.zip").read_bytes() == archive.read_bytes()


def test_requirements_come_from_the_lock_and_include_functions_framework(archive: Path) -> None:
    with zipfile.ZipFile(archive) as zipped:
        requirements = zipped.read("requirements.txt").decode()
    pinned = {
        line.split("==")[0].strip().lower()
        for line in requirements.splitlines()
        if "==" in line and not line.lstrip().startswith("#")
    }
    assert "functions-framework" in pinned
    assert {"pytest", "ruff", "mypy", "python-hcl2"}.isdisjoint(pinned), "dev deps leaked"


def _runtime_venv(requirements: bytes) -> Path:
    """A virtualenv with the archive's requirements, cached by their hash."""
    venv = VENV_CACHE / hashlib.sha256(requirements).hexdigest()[:16]
    python = venv / "bin" / "python"
    if (venv / ".complete").exists():
        return python
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    (venv / "requirements.txt").write_bytes(requirements)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(venv / "requirements.txt"),
        ],
        check=True,
    )
    (venv / ".complete").touch()
    return python


@pytest.mark.timeout(1200)
def test_every_entry_point_imports_from_the_unzipped_archive(archive: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(archive) as zipped:
        python = _runtime_venv(zipped.read("requirements.txt"))
        zipped.extractall(tmp_path)
    assert (tmp_path / "main.py").is_file()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GOOGLE_CLOUD_PROJECT": "demo-x"}
    for name in main.ENTRY_POINTS:
        result = subprocess.run(
            [str(python), "-s", "-E", "-c", f"import main; main.{name}"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"{name}:\n{result.stderr}"
