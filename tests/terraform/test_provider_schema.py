"""Every resource and data block of terraform/ exists in the pinned google provider's schema
(hashicorp/google 6.50, read from @cdktf/provider-google's jsii assembly), and the check
itself fails on a misspelled argument, a missing required one, a wrongly nested block and a
reference to an attribute the type does not have."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.terraform import provider_schema
from tests.terraform._hcl import TERRAFORM_DIR
from tests.terraform.provider_schema import Schema
from tests.terraform.schema_check import Report, check

pytestmark = pytest.mark.unit

PACKAGE = "@cdktf/provider-google"


@pytest.fixture(scope="module")
def schema() -> Schema:
    return provider_schema.load()


def test_every_block_of_the_deployment_matches_the_provider_schema(schema: Schema) -> None:
    report = check(TERRAFORM_DIR, schema)
    assert report.problems == []
    text = "\n".join(path.read_text() for path in TERRAFORM_DIR.glob("*.tf"))
    declared = re.findall(r'^(?:resource|data) "', text, flags=re.MULTILINE)
    assert report.blocks == len(declared), "every resource and data block is checked"
    assert report.arguments > report.blocks and report.references > 0


def test_provider_pinned_to_the_minor_version_of_the_checked_schema(schema: Schema) -> None:
    major, minor, _ = schema.version.split(".")
    versions = (TERRAFORM_DIR / "versions.tf").read_text()
    pinned = re.search(r'source\s*=\s*"hashicorp/google"\s*\n\s*version\s*=\s*"([^"]+)"', versions)
    assert pinned is not None
    assert pinned[1] == f"~> {major}.{minor}.0", "the provider may move only within the minor"

    root = Path(__file__).resolve().parents[2]
    package = json.loads((root / "package.json").read_text())["devDependencies"][PACKAGE]
    locked = json.loads((root / "package-lock.json").read_text())["packages"]
    assert (
        package == locked[f"node_modules/{PACKAGE}"]["version"] == provider_schema.package_version()
    )
    assert re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", package), "an exact version, not a range"


def _mutated(tmp_path: Path, file_name: str, old: str, new: str) -> Path:
    """A copy of terraform/ with one exact edit in one file."""
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM_DIR, copy, ignore=shutil.ignore_patterns(".terraform", ".build"))
    target = copy / file_name
    text = target.read_text()
    assert text.count(old) == 1, f"the edit must match exactly once in {file_name}: {old!r}"
    target.write_text(text.replace(old, new))
    return copy


Edit = tuple[str, str, str, Callable[[Report], bool]]

BROKEN: dict[str, Edit] = {
    "misspelled argument": (
        "functions.tf",
        "available_memory                 =",
        "available_memroy                 =",
        lambda r: any("available_memroy: unknown argument" in p for p in r.problems),
    ),
    "missing required argument": (
        "iam.tf",
        '  role    = "roles/datastore.user"\n',
        "",
        lambda r: any(
            "google_project_iam_member.function_firestore: missing required argument role" in p
            for p in r.problems
        ),
    ),
    "block nested in the wrong block": (
        "functions.tf",
        "    source {\n      storage_source {",
        "    storage_source {\n      source {",
        lambda r: any("build_config: storage_source: unknown block" in p for p in r.problems),
    ),
    "argument written as a block": (
        "pubsub.tf",
        "  ack_deadline_seconds       = 60\n",
        "  ack_deadline_seconds {\n  }\n",
        lambda r: any("ack_deadline_seconds: an argument, not a block" in p for p in r.problems),
    ),
    "unknown computed attribute in a reference": (
        "functions.tf",
        "name     = google_cloudfunctions2_function.function[each.key].service_config[0].service\n"
        '  role     = "roles/run.invoker"\n  member   = "allUsers"',
        "name     = google_cloudfunctions2_function.function[each.key].service_config[0].servce\n"
        '  role     = "roles/run.invoker"\n  member   = "allUsers"',
        lambda r: any("has no attribute servce" in p for p in r.problems),
    ),
    "unknown resource type": (
        "iam.tf",
        'resource "google_project_iam_member" "function_firestore"',
        'resource "google_project_iam_membr" "function_firestore"',
        lambda r: any("unknown resource type google_project_iam_membr" in p for p in r.problems),
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_the_check_fails_on_a_broken_copy(tmp_path: Path, schema: Schema, case: str) -> None:
    file_name, old, new, expected = BROKEN[case]
    report = check(_mutated(tmp_path, file_name, old, new), schema)
    assert report.problems, f"{case}: the check passed a broken configuration"
    assert expected(report), report.problems
