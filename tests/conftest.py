"""Test layout: ``tests/unit`` (fakes of our own ports, no I/O), ``tests/functions`` (each
deployed function in process over fakes of our ports) and ``tests/e2e`` (the real local
stack). Markers follow the folder; tests marked ``last`` run after all others."""

from __future__ import annotations

from pathlib import Path

import pytest

_TESTS = Path(__file__).parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "last: run after every other test (e.g. log audits)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        relative = Path(str(item.fspath)).relative_to(_TESTS)
        if relative.parts[0] == "unit":
            item.add_marker(pytest.mark.unit)
        elif relative.parts[0] == "functions":
            item.add_marker(pytest.mark.functions)
        elif relative.parts[0] == "e2e":
            item.add_marker(pytest.mark.e2e)
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)
