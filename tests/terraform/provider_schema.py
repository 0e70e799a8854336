"""The hashicorp/google provider's schema, read offline from the pinned cdktf package.

The provider binary cannot be downloaded here, but ``@cdktf/provider-google`` (pinned in
``package.json``, installed by ``npm ci``) is generated from the provider's own schema and
ships it in its jsii assembly (``node_modules/@cdktf/provider-google/.jsii``, ~100 MB JSON):

- every resource and data source is a class whose doc links to its registry page, e.g.
  ``.../hashicorp/google/6.50.0/docs/resources/cloudfunctions2_function``;
- its constructor takes a ``…Config`` struct: one property per argument, ``optional`` unless
  the argument (or block, min_items >= 1) is required, each doc linking ``#<snake_name>``;
- a nested block is a struct property: a struct type when the block has ``max_items = 1``,
  an array of structs otherwise;
- the class's getters are every readable attribute, computed ones included (a block's
  getter returns an ``…OutputReference``, a repeated block's a ``…List`` with ``get(i)``).

``load()`` turns that into a small ``Schema`` (and caches it as JSON under ``.tools/``, keyed
by the assembly's version, size and mtime, since parsing the assembly takes ~4 s and ~0.5 GB).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "node_modules" / "@cdktf" / "provider-google"
CACHE_DIR = ROOT / ".tools" / "provider-schema"

_REGISTRY_LINK = re.compile(
    r"registry\.terraform\.io/providers/hashicorp/google/(?P<version>[0-9.]+)/docs/"
    r"(?P<kind>resources|data-sources)/(?P<page>\w+) (?P<type>\w+)\}"
)
_ANCHOR = re.compile(r"/docs/(?:resources|data-sources)/\w+#(?P<name>\w+) ")
_MAX_READ_DEPTH = 6


@dataclass
class Nested:
    """A nested block type: its own schema, whether it must appear, and if at most once."""

    block: Block
    required: bool
    max_one: bool


@dataclass
class Block:
    """Arguments of a resource, data source or nested block.

    ``attributes`` maps each argument name to True when it is required; ``blocks`` maps
    nested block names to their schema.
    """

    attributes: dict[str, bool] = field(default_factory=dict)
    blocks: dict[str, Nested] = field(default_factory=dict)


@dataclass
class Schema:
    """The provider's resources and data sources (arguments), and what each can be read as.

    ``readable[type]`` is a tree of snake_case attribute names (computed ones included) to
    their nested readable attributes (empty for a scalar, list or map).
    """

    version: str
    resources: dict[str, Block]
    data_sources: dict[str, Block]
    readable: dict[str, dict[str, Any]]

    def kind(self, mode: str) -> dict[str, Block]:
        """``resources`` for ``mode == "resource"``, ``data_sources`` for ``"data"``."""
        return self.resources if mode == "resource" else self.data_sources


def package_version() -> str:
    """The installed @cdktf/provider-google version (AssertionError when not installed)."""
    manifest = PACKAGE / "package.json"
    assert manifest.exists(), f"{PACKAGE} is missing: run `make setup` (npm ci)"
    version: str = json.loads(manifest.read_text())["version"]
    return version


def load() -> Schema:
    """The schema of the installed package, from the cache when it is current."""
    assembly = PACKAGE / ".jsii"
    stat = assembly.stat()
    key = f"{package_version()}-{stat.st_size}-{stat.st_mtime_ns}"
    cached = CACHE_DIR / f"google-{key}.json"
    if cached.exists():
        return _from_json(json.loads(cached.read_text()))
    schema = extract(json.loads(assembly.read_bytes()))
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(".tmp")
    partial.write_text(json.dumps(_to_json(schema)))
    partial.replace(cached)
    return schema


def extract(assembly: dict[str, Any]) -> Schema:
    """Build the schema from a parsed jsii assembly."""
    types: dict[str, Any] = assembly["types"]
    resources: dict[str, Block] = {}
    data_sources: dict[str, Block] = {}
    readable: dict[str, dict[str, Any]] = {}
    versions: set[str] = set()
    for spec in types.values():
        if spec.get("kind") != "class" or spec.get("base") not in _BASES:
            continue
        link = _REGISTRY_LINK.search(spec.get("docs", {}).get("summary", ""))
        if link is None:
            continue
        versions.add(link["version"])
        config = spec["initializer"]["parameters"][2]["type"]["fqn"]
        target = resources if link["kind"] == "resources" else data_sources
        target[link["type"]] = _block(types, config)
        readable[link["type"]] = _readable(types, spec, 0)
    assert len(versions) == 1, f"assembly documents several provider versions: {versions}"
    return Schema(versions.pop(), resources, data_sources, readable)


_BASES = {"cdktf.TerraformResource", "cdktf.TerraformDataSource"}


def _properties(types: dict[str, Any], fqn: str) -> list[dict[str, Any]]:
    spec = types[fqn]
    found = list(spec.get("properties", []))
    for parent in spec.get("interfaces", []):
        if parent in types:  # cdktf.TerraformMetaArguments lives in another assembly
            found += _properties(types, parent)
    return found


def _struct_of(types: dict[str, Any], type_ref: dict[str, Any]) -> tuple[str, bool] | None:
    """(struct fqn, max_one) when a property is a nested block, else None."""
    fqn = type_ref.get("fqn")
    if fqn is not None:
        return (fqn, True) if types.get(fqn, {}).get("datatype") else None
    for option in type_ref.get("union", {}).get("types", []):
        element = option.get("collection", {}).get("elementtype", {})
        if element.get("fqn") and types.get(element["fqn"], {}).get("datatype"):
            return element["fqn"], False
    return None


def _argument_name(prop: dict[str, Any]) -> str:
    """The Terraform name: the registry anchor of the property's doc link."""
    remarks = prop.get("docs", {}).get("remarks", "")
    found = _ANCHOR.search(remarks)
    if found:
        return found["name"]
    return re.sub(r"(?<!^)(?=[A-Z])", "_", prop["name"]).lower()


def _block(types: dict[str, Any], fqn: str) -> Block:
    block = Block()
    for prop in _properties(types, fqn):
        name = _argument_name(prop)
        required = not prop.get("optional", False)
        nested = _struct_of(types, prop["type"])
        if nested is None:
            block.attributes[name] = required
        else:
            struct, max_one = nested
            block.blocks[name] = Nested(_block(types, struct), required, max_one)
    return block


def _readable(types: dict[str, Any], spec: dict[str, Any], depth: int) -> dict[str, Any]:
    """Getters of a class (a resource, an OutputReference or a List's element), snake_case."""
    tree: dict[str, Any] = {}
    if depth > _MAX_READ_DEPTH:
        return tree
    getters = list(spec.get("properties", []))
    base = types.get(spec.get("base", ""))
    if base is not None:
        getters += base.get("properties", [])
    for prop in getters:
        if prop.get("static") or prop["name"].endswith("Input"):
            continue
        name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", prop["name"]).lower()
        tree[name] = _readable_type(types, prop["type"], depth + 1)
    return tree


def _readable_type(types: dict[str, Any], type_ref: dict[str, Any], depth: int) -> dict[str, Any]:
    spec = types.get(type_ref.get("fqn", ""))
    if spec is None or spec.get("kind") != "class":
        return {}
    if spec["name"].endswith("List"):
        getter = next((m for m in spec.get("methods", []) if m["name"] == "get"), None)
        if getter is None:
            return {}
        return _readable_type(types, getter["returns"]["type"], depth)
    return _readable(types, spec, depth)


def _to_json(schema: Schema) -> dict[str, Any]:
    def block(value: Block) -> dict[str, Any]:
        return {
            "attributes": value.attributes,
            "blocks": {
                name: {"required": n.required, "max_one": n.max_one, "block": block(n.block)}
                for name, n in value.blocks.items()
            },
        }

    return {
        "version": schema.version,
        "resources": {name: block(b) for name, b in schema.resources.items()},
        "data_sources": {name: block(b) for name, b in schema.data_sources.items()},
        "readable": schema.readable,
    }


def _from_json(raw: dict[str, Any]) -> Schema:
    def block(value: dict[str, Any]) -> Block:
        return Block(
            dict(value["attributes"]),
            {
                name: Nested(block(n["block"]), n["required"], n["max_one"])
                for name, n in value["blocks"].items()
            },
        )

    return Schema(
        raw["version"],
        {name: block(b) for name, b in raw["resources"].items()},
        {name: block(b) for name, b in raw["data_sources"].items()},
        raw["readable"],
    )
