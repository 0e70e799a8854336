"""Read the Terraform configuration with python-hcl2 into plain Python values.

python-hcl2 8 keeps string quotes (``'"x"'``), marks blocks with ``__is_block__`` and keeps
comments unless told otherwise; older releases do neither. ``load`` asks for plain output
where the installed release can give it, and ``plain`` normalises whatever comes back.
Expressions stay strings such as ``"${local.functions}"``: ``expr`` strips the wrapper.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

TERRAFORM_DIR = Path(__file__).resolve().parents[2] / "terraform"
_META_KEYS = frozenset({"__is_block__", "__comments__", "__inline_comments__"})


def _options() -> Any:
    try:
        from hcl2.utils import SerializationOptions
    except ImportError:  # python-hcl2 < 8: plain output already
        return None
    return SerializationOptions(
        strip_string_quotes=True, explicit_blocks=False, with_comments=False
    )


def plain(value: Any) -> Any:
    """The value without hcl2's quotes and metadata keys, recursively."""
    if isinstance(value, dict):
        return {plain(key): plain(item) for key, item in value.items() if key not in _META_KEYS}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def expr(value: Any) -> str:
    """An expression's text without the ``${...}`` wrapper (literals come back as text)."""
    text = str(value)
    if text.startswith("${") and text.endswith("}"):
        return text[2:-1]
    return text


def block(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The single nested block ``name`` of a body (hcl2 gives blocks as lists)."""
    found = body[name]
    if isinstance(found, list):
        assert len(found) == 1, f"expected one {name} block, found {len(found)}"
        found = found[0]
    assert isinstance(found, dict)
    return found


def dynamic(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The ``dynamic "name"`` block of a body."""
    for entry in body.get("dynamic", []):
        if name in entry:
            found: dict[str, Any] = entry[name]
            return found
    raise KeyError(f"no dynamic {name} block")


@dataclass
class Config:
    """The top-level blocks of every .tf file of one directory."""

    locals: dict[str, Any] = field(default_factory=dict)
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def resource(self, kind: str, name: str) -> dict[str, Any]:
        """One resource body by type and name."""
        return self.resources[(kind, name)]

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        """Every resource of one type, by name."""
        return {name: body for (rtype, name), body in self.resources.items() if rtype == kind}


def load(directory: Path = TERRAFORM_DIR) -> Config:
    """Parse every .tf file of ``directory``; a name defined twice is an error."""
    config = Config()
    options = _options()
    for path in sorted(directory.glob("*.tf")):
        with path.open() as handle:
            raw = hcl2.load(handle, serialization_options=options) if options else hcl2.load(handle)
        parsed = plain(raw)
        for entry in parsed.get("locals", []):
            _merge(config.locals, entry, path)
        for entry in parsed.get("resource", []):
            for kind, named in entry.items():
                for name, body in named.items():
                    _merge(config.resources, {(kind, name): body}, path)
        for entry in parsed.get("variable", []):
            _merge(config.variables, entry, path)
        for entry in parsed.get("output", []):
            _merge(config.outputs, entry, path)
    return config


def _merge(target: dict[Any, Any], new: dict[Any, Any], path: Path) -> None:
    for key, value in new.items():
        assert key not in target, f"{key} defined twice (again in {path.name})"
        target[key] = value
