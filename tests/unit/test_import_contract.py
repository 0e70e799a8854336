"""The import-layer contract (``[tool.importlinter]`` in pyproject.toml) holds, and it
really fails when a module breaks it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("functions", "shared", "devstack", "bench", "tests")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "200"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_repository_keeps_the_contract(copy: Path) -> None:
    result = _lint(copy)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "source", "contract"),
    [
        (
            "shared/services/probe.py",
            "from shared.adapters import fcm\n",
            "Services use ports",
        ),
        ("shared/services/probe.py", "import flask\n", "Services use ports"),
        ("functions/probe.py", "from shared.adapters import sync_store\n", "composition root"),
        ("shared/adapters/probe.py", "from shared.services import sync\n", "Adapters implement"),
        ("shared/ports/probe.py", "from shared.services import sync\n", "Entry functions over"),
        ("bench/probe.py", "import tests.conftest\n", "never import the tests"),
    ],
)
def test_a_deliberate_violation_breaks_it(
    copy: Path, module: str, source: str, contract: str
) -> None:
    (copy / module).write_text(f'"""A temporary violation."""\n\n{source}')
    result = _lint(copy)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if "BROKEN" in line]
    assert any(contract in line for line in broken), result.stdout
