"""The Terraform deployment matches the code: entry points, settings, triggers, access, data.

Offline: the .tf files are parsed with python-hcl2 (the google provider cannot be installed
here, so there is no plan to inspect).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import main
from shared.settings import Settings
from tests.terraform._hcl import TERRAFORM_DIR, Config, block, dynamic, expr, load

pytestmark = pytest.mark.unit

FUNCTION = "google_cloudfunctions2_function"

# Emulator hosts and endpoint overrides: never in production (Settings refuses them there).
OVERRIDES = frozenset(
    {
        "FIRESTORE_EMULATOR_HOST",
        "PUBSUB_EMULATOR_HOST",
        "FIREBASE_AUTH_EMULATOR_HOST",
        "GOOGLE_API_BASE_URL",
        "GOOGLE_OAUTH_BASE_URL",
    }
)

TTL_COLLECTIONS = {
    "oauth_states",
    "idempotency",
    "push_claims",
    "activity",
    "events",
    "own_changes",  # drains the pre-move documents
}
TOPICS = {"gmail-notifications", "push-jobs", "maintenance-ticks", "maintenance-work"}


@pytest.fixture(scope="module")
def config() -> Config:
    return load()


@pytest.fixture(scope="module")
def functions(config: Config) -> dict[str, dict[str, Any]]:
    """The manifest Terraform deploys (``local.functions`` decodes the same file)."""
    assert expr(config.locals["functions"]) == (
        'jsondecode(file("${path.module}/../functions/manifest.json")).functions'
    )
    found: dict[str, dict[str, Any]] = json.loads(main.MANIFEST.read_text())["functions"]
    return found


def env_names(config: Config, fn: dict[str, Any]) -> set[str]:
    """Every environment variable name a function entry sets, secrets included."""
    secrets = config.locals["secrets"]
    return (
        set(config.locals["common_env"])
        | set(fn["settings"])
        | set(fn["env"])
        | {secrets[key]["env_name"] for key in fn["secrets"]}
    )


def test_deployed_functions_are_exactly_the_entry_points(
    config: Config, functions: dict[str, dict[str, Any]]
) -> None:
    assert set(functions) == set(main.ENTRY_POINTS)
    resource = config.resource(FUNCTION, "function")
    assert expr(resource["for_each"]) == "local.functions"
    build = block(resource, "build_config")
    assert expr(build["entry_point"]) == "each.key"
    assert build["runtime"] == "python311"
    assert set(config.of_type(FUNCTION)) == {"function"}, "every function comes from the map"


def test_every_function_has_a_module_and_a_consistent_trigger(
    config: Config, functions: dict[str, dict[str, Any]]
) -> None:
    for name, fn in functions.items():
        assert (TERRAFORM_DIR.parent / "functions" / f"{name}.py").is_file(), name
        assert fn["trigger"] in ("http", "event"), name
        # Only Pub/Sub redelivers: an HTTP caller retries itself.
        assert fn["retry"] is (fn["trigger"] == "event"), name
        for topic in fn["publish_topics"]:
            assert topic in config.locals["topics"], (name, topic)


def test_env_names_are_settings_fields_and_never_overrides(
    config: Config, functions: dict[str, dict[str, Any]]
) -> None:
    fields = {name.upper() for name in Settings.model_fields}
    for name, fn in functions.items():
        names = env_names(config, fn)
        assert names <= fields, f"{name}: not settings fields: {sorted(names - fields)}"
        assert not names & OVERRIDES, f"{name} sets {sorted(names & OVERRIDES)}"
        assert set(fn["settings"]) <= set(config.locals["settings"]), name
        assert set(fn["secrets"]) <= set(config.locals["secrets"]), name


def test_environment_is_built_from_the_entry(config: Config) -> None:
    service = block(config.resource(FUNCTION, "function"), "service_config")
    env = expr(service["environment_variables"])
    for part in ("local.common_env", "each.value.settings", "local.settings[name]"):
        assert part in env
    assert env.rstrip(")").rstrip().rstrip(",").endswith("each.value.env")
    secrets = dynamic(service, "secret_environment_variables")
    assert "each.value.secrets" in expr(secrets["for_each"])
    content = block(secrets, "content")
    assert expr(content["key"]) == "local.secrets[secret_environment_variables.value].env_name"
    assert expr(content["version"]) == "var.secret_versions[secret_environment_variables.value]"


def test_secret_versions_are_pinned_for_every_secret(config: Config) -> None:
    versions = config.variables["secret_versions"]["default"]
    assert set(versions) == set(config.locals["secrets"])
    assert all(re.fullmatch(r"[1-9][0-9]*", version) for version in versions.values())
    text = "\n".join(path.read_text() for path in TERRAFORM_DIR.glob("*.tf"))
    assert not re.search(r'version\s*=\s*"latest"', text)


def test_function_sizes_come_from_the_entry_or_the_typed_overrides(config: Config) -> None:
    variable = config.variables["function_settings"]
    assert "optional(" in expr(variable["type"])
    sizes = expr(config.locals["function_sizes"])
    for field in ("min_instances", "max_instances", "memory", "timeout_seconds", "concurrency"):
        assert f"var.function_settings[name].{field}" in sizes, field
    service = block(config.resource(FUNCTION, "function"), "service_config")
    assert expr(service["available_memory"]) == "local.function_sizes[each.key].memory"
    assert expr(service["max_instance_count"]) == "local.function_sizes[each.key].max_instances"


def test_production_and_project_set_on_every_function(
    config: Config, functions: dict[str, dict[str, Any]]
) -> None:
    common = config.locals["common_env"]
    assert common["PRODUCTION"] == "true"
    assert expr(common["GOOGLE_CLOUD_PROJECT"]) == "var.project_id"
    for name, fn in functions.items():
        overridden = {"PRODUCTION", "GOOGLE_CLOUD_PROJECT"} & (set(fn["env"]) | set(fn["settings"]))
        assert not overridden, f"{name} overrides {overridden}"
        assert {"PRODUCTION", "GOOGLE_CLOUD_PROJECT"} <= env_names(config, fn)


def test_event_functions_are_private_and_triggered_by_their_topic(
    config: Config, functions: dict[str, dict[str, Any]]
) -> None:
    resource = config.resource(FUNCTION, "function")
    trigger = dynamic(resource, "event_trigger")
    assert expr(trigger["for_each"]) == 'each.value.trigger == "event" ? [each.value.topic] : []'
    content = block(trigger, "content")
    assert expr(content["pubsub_topic"]) == "google_pubsub_topic.topic[event_trigger.value].id"
    assert content["event_type"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert expr(content["retry_policy"]) == (
        'each.value.retry ? "RETRY_POLICY_RETRY" : "RETRY_POLICY_DO_NOT_RETRY"'
    )
    assert expr(content["service_account_email"]) == (
        "google_service_account.eventarc_trigger.email"
    )
    ingress = expr(block(resource, "service_config")["ingress_settings"])
    assert ingress == 'each.value.public ? "ALLOW_ALL" : "ALLOW_INTERNAL_ONLY"'
    for name, fn in functions.items():
        if fn["trigger"] == "event":
            assert fn["public"] is False, name
            assert fn["topic"] in config.locals["topics"], name
        else:
            assert fn["topic"] is None, name


def test_only_public_http_functions_have_a_public_invoker(config: Config) -> None:
    public = config.resource("google_cloud_run_v2_service_iam_member", "public_invoker")
    assert expr(public["for_each"]) == "local.public_http_functions"
    assert public["member"] == "allUsers" and public["role"] == "roles/run.invoker"
    selection = expr(config.locals["public_http_functions"])
    assert 'fn.trigger == "http" && fn.public' in selection

    trigger = config.resource("google_cloud_run_v2_service_iam_member", "trigger_invoker")
    assert expr(trigger["for_each"]) == "local.event_functions"
    assert expr(trigger["member"]) == "google_service_account.eventarc_trigger.member"
    assert 'fn.trigger == "event"' in expr(config.locals["event_functions"])

    text = "\n".join(path.read_text() for path in TERRAFORM_DIR.glob("*.tf"))
    assert text.count('"allUsers"') == 1
    assert "allAuthenticatedUsers" not in text


def test_event_triggers_get_their_dead_letter_topic(config: Config) -> None:
    hookup = config.resource("terraform_data", "trigger_dead_letter")
    assert expr(hookup["for_each"]) == "local.event_functions"
    assert set(config.locals["topics"]) == TOPICS
    for kind in ("google_pubsub_topic", "google_pubsub_subscription"):
        assert expr(config.resource(kind, "dead_letter")["for_each"]) == "local.topics"
    agent = config.resource("google_pubsub_topic_iam_member", "dead_letter_publisher")
    assert expr(agent["member"]) == "serviceAccount:${local.pubsub_service_agent}"
    assert agent["role"] == "roles/pubsub.publisher"


def test_gmail_push_may_publish_to_the_gmail_topic(config: Config) -> None:
    binding = config.resource("google_pubsub_topic_iam_member", "gmail_push_publisher")
    assert binding["member"] == "serviceAccount:gmail-api-push@system.gserviceaccount.com"
    assert binding["role"] == "roles/pubsub.publisher"
    assert expr(binding["topic"]) == 'google_pubsub_topic.topic["gmail-notifications"].name'


def test_functions_get_only_their_own_secrets_and_topics(config: Config) -> None:
    secret_iam = config.resource("google_secret_manager_secret_iam_member", "function")
    assert expr(secret_iam["for_each"]) == "local.function_secrets"
    assert secret_iam["role"] == "roles/secretmanager.secretAccessor"
    publisher = config.resource("google_pubsub_topic_iam_member", "function_publisher")
    assert expr(publisher["for_each"]) == "local.function_publishers"
    assert "google_secret_manager_secret_version" not in {kind for kind, _ in config.resources}


def test_service_account_ids_fit_for_every_function() -> None:
    for name in main.ENTRY_POINTS:
        account_id = "fn-" + name.replace("_", "-")
        assert re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", account_id), account_id


def test_every_ttl_collection_has_a_ttl_policy(config: Config) -> None:
    assert set(config.locals["ttl_fields"]) == TTL_COLLECTIONS
    assert set(config.locals["ttl_fields"].values()) == {"expires_at"}
    ttl = config.resource("google_firestore_field", "ttl")
    assert expr(ttl["for_each"]) == "local.ttl_fields"
    assert "ttl_config" in ttl
    database = config.resource("google_firestore_database", "main")
    assert database["type"] == "FIRESTORE_NATIVE" and database["name"] == "(default)"


def test_scheduler_ticks_and_prunes_on_the_maintenance_topic(config: Config) -> None:
    from functions.watch_maintenance import TASKS

    assert set(config.locals["maintenance_jobs"]) == set(TASKS) == {"tick", "prune"}
    job = config.resource("google_cloud_scheduler_job", "maintenance")
    assert expr(job["for_each"]) == "local.maintenance_jobs"
    target = block(job, "pubsub_target")
    assert expr(target["topic_name"]) == 'google_pubsub_topic.topic["maintenance-ticks"].id'
    assert "task = each.key" in expr(target["data"])


def test_security_rules_deny_every_client(config: Config) -> None:
    ruleset = config.resource("google_firebaserules_ruleset", "firestore")
    files = block(block(ruleset, "source"), "files")
    assert expr(files["content"]) == 'file("${path.module}/firestore.rules")'
    rules = Path(TERRAFORM_DIR, "firestore.rules").read_text()
    code = re.sub(r"//[^\n]*", "", rules)
    allows = re.findall(r"\ballow\b[^;]*;", code)
    assert allows, "no allow statement"
    for allow in allows:
        assert re.fullmatch(r"allow\s+[a-z, ]+:\s*if\s+false\s*;", allow), allow
    release = config.resource("google_firebaserules_release", "firestore")
    assert release["name"] == "cloud.firestore"


def test_variables_are_typed_and_described(config: Config) -> None:
    for name, variable in config.variables.items():
        assert variable.get("description"), name
        assert variable.get("type"), name
    for name in ("project_id", "region", "app_deep_link", "google_oauth_client_id"):
        assert "validation" in config.variables[name], name


def test_public_urls_are_outputs(config: Config) -> None:
    expected = {"account_api_url", "calendar_api_url", "oauth_redirect_uri", "webhook_urls"}
    assert expected <= set(config.outputs)
    assert "function_service_accounts" in config.outputs


def test_maintenance_tick_publishes_work_and_continuations(
    functions: dict[str, dict[str, Any]],
) -> None:
    tick, worker = functions["watch_maintenance"], functions["maintenance_worker"]
    assert set(tick["publish_topics"]) == {"maintenance-work", "maintenance-ticks"}
    assert set(worker["publish_topics"]) == {"push-jobs", "maintenance-work"}
    assert worker["timeout_seconds"] <= 540 and tick["timeout_seconds"] <= 540


def test_cursors_are_indexed_for_the_due_query(config: Config) -> None:
    fields = config.locals["collection_group_fields"]
    assert {"collection": "cursors", "field": "due_at"} in fields.values()
