"""The README stays true: every setting and every error code is documented."""

from __future__ import annotations

from pathlib import Path

from shared.errors import ErrorCode
from shared.settings import Settings

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_every_setting_is_in_the_configuration_table() -> None:
    missing = [
        name.upper() for name in Settings.model_fields if f"| `{name.upper()}` |" not in README
    ]
    assert missing == []


def test_every_error_code_is_in_the_error_table() -> None:
    missing = [code.value for code in ErrorCode if f"| `{code.value}` |" not in README]
    assert missing == []
