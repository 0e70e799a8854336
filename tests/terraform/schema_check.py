"""Checks every ``resource`` and ``data`` block of a Terraform directory against the google
provider's schema (``provider_schema``), offline: what ``terraform validate`` would say about
names, without the provider binary.

Reported as problems (strings ``file: type.name: what``):
- an unknown resource or data source type;
- an argument or nested block the schema does not have at that place (misspelled, or nested
  in the wrong block), an argument written as a block or a block as an argument, a
  ``max_items = 1`` block given twice;
- a required argument or block that is missing (a ``dynamic`` block counts as present);
- a reference ``google_x.name.attr…`` to an undeclared resource or to an attribute, computed
  ones included, that the type cannot be read as.

Expressions are not evaluated: values are not type-checked, and a block produced only by
``dynamic`` is checked through its ``content``.

``python -m tests.terraform.schema_check [DIR]`` prints the problems and the counts.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

from tests.terraform._hcl import TERRAFORM_DIR
from tests.terraform.provider_schema import Block, Nested, Schema, load

# Meta-arguments Terraform itself handles, per block kind.
_META_ATTRIBUTES = {
    "resource": {"count", "for_each", "depends_on", "provider"},
    "data": {"count", "for_each", "depends_on", "provider"},
}
_META_BLOCKS = {"resource": {"lifecycle", "provisioner", "connection"}, "data": {"lifecycle"}}

# Resources of Terraform's built-in provider (terraform.io/builtin/terraform), not in the package.
BUILTIN: dict[str, Block] = {
    "terraform_data": Block(attributes={"input": False, "triggers_replace": False}),
}

_REFERENCE = re.compile(
    r"(?<![\w.])(?P<data>data\.)?(?P<type>google_\w+)\.(?P<name>\w+)"
    r"(?:\[[^\]]*\])?(?P<path>(?:\.\w+(?:\[[^\]]*\])?)*)"
)


@dataclass
class Report:
    """Problems found, and how much was checked."""

    problems: list[str] = field(default_factory=list)
    blocks: int = 0  # resource and data blocks
    arguments: int = 0  # arguments and nested blocks, at every depth
    references: int = 0  # google_x.name.attr references

    def add(self, where: str, problem: str) -> None:
        """Record one problem at ``where``."""
        self.problems.append(f"{where}: {problem}")


def check(directory: Path = TERRAFORM_DIR, schema: Schema | None = None) -> Report:
    """Check every .tf file of ``directory`` (not recursive, like a Terraform module)."""
    schema = schema or load()
    report = Report()
    declared: set[tuple[str, str, str]] = set()
    expressions: list[tuple[str, str]] = []
    for path in sorted(directory.glob("*.tf")):
        parsed = _parse(path)
        for mode in ("resource", "data"):
            for entry in parsed.get(mode, []):
                for kind, named in entry.items():
                    for name, body in named.items():
                        declared.add((mode, kind, name))
                        where = f"{path.name}: {'data.' if mode == 'data' else ''}{kind}.{name}"
                        _check_top(schema, mode, kind, body, where, report)
        expressions += [(path.name, text) for text in _strings(parsed)]
    for file_name, text in expressions:
        _check_references(schema, declared, file_name, text, report)
    return report


def _parse(path: Path) -> dict[str, Any]:
    options = SerializationOptions(
        strip_string_quotes=True, explicit_blocks=True, with_comments=False
    )
    with path.open() as handle:
        parsed: dict[str, Any] = hcl2.load(handle, serialization_options=options)
    return parsed


def _check_top(
    schema: Schema, mode: str, kind: str, body: dict[str, Any], where: str, report: Report
) -> None:
    report.blocks += 1
    block = BUILTIN.get(kind) if mode == "resource" else None
    block = block or schema.kind(mode).get(kind)
    if block is None:
        report.add(where, f"unknown {mode} type {kind} in hashicorp/google {schema.version}")
        return
    _check_body(block, body, where, report, _META_ATTRIBUTES[mode], _META_BLOCKS[mode])


def _is_block(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and item.get("__is_block__") for item in value)
    )


def _check_body(
    block: Block,
    body: dict[str, Any],
    where: str,
    report: Report,
    meta_attributes: frozenset[str] | set[str] = frozenset(),
    meta_blocks: frozenset[str] | set[str] = frozenset(),
) -> None:
    present: set[str] = set()
    for key, value in body.items():
        if key == "__is_block__" or key in meta_attributes or key in meta_blocks:
            continue
        if key == "dynamic" and isinstance(value, list):
            for entry in value:
                for name, spec in entry.items():
                    if name != "__is_block__":
                        present.add(name)
                        _check_dynamic(block, name, spec, where, report)
            continue
        report.arguments += 1
        present.add(key)
        if _is_block(value):
            nested = block.blocks.get(key)
            if nested is None:
                wrong = "an argument, not a block" if key in block.attributes else "unknown block"
                report.add(where, f"{key}: {wrong}")
                continue
            if nested.max_one and len(value) > 1:
                report.add(where, f"{key}: at most one block allowed, found {len(value)}")
            for item in value:
                _check_body(nested.block, item, f"{where}.{key}", report)
        elif key not in block.attributes:
            wrong = "a block, not an argument" if key in block.blocks else "unknown argument"
            report.add(where, f"{key}: {wrong}")
    for name, required in block.attributes.items():
        if required and name not in present:
            report.add(where, f"missing required argument {name}")
    for name, nested in block.blocks.items():
        if nested.required and name not in present:
            report.add(where, f"missing required block {name}")


def _check_dynamic(
    block: Block, name: str, spec: dict[str, Any], where: str, report: Report
) -> None:
    report.arguments += 1
    nested: Nested | None = block.blocks.get(name)
    if nested is None:
        report.add(where, f"dynamic {name}: unknown block")
        return
    content = spec.get("content")
    if content is None or not _is_block(content):
        report.add(where, f"dynamic {name}: no content block")
        return
    for item in content:
        _check_body(nested.block, item, f"{where}.{name}", report)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def _check_references(
    schema: Schema,
    declared: set[tuple[str, str, str]],
    file_name: str,
    text: str,
    report: Report,
) -> None:
    for found in _REFERENCE.finditer(text):
        mode = "data" if found["data"] else "resource"
        kind, name = found["type"], found["name"]
        where = f"{file_name}: reference {found.group(0)}"
        report.references += 1
        if (mode, kind, name) not in declared:
            report.add(where, f"no {mode} {kind}.{name} is declared")
            continue
        tree: dict[str, Any] = schema.readable.get(kind, {})
        for attribute in re.findall(r"\.(\w+)", found["path"]):
            if not tree:
                break  # a scalar, list or map: its keys are data, not schema
            if attribute not in tree:
                report.add(where, f"{kind} has no attribute {attribute}")
                break
            tree = tree[attribute]


def main(argv: list[str]) -> int:
    """Print problems and counts for a directory; exit 1 when there is any problem."""
    directory = Path(argv[0]) if argv else TERRAFORM_DIR
    report = check(directory)
    for problem in report.problems:
        print(problem)
    print(
        f"{report.blocks} resource/data blocks, {report.arguments} arguments and blocks, "
        f"{report.references} references checked; {len(report.problems)} problems"
    )
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
