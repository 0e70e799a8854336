"""Monitoring matches the code: every alert value the code logs is counted by the alert metric
and watched by a policy, and every log field the metric reads is one the code writes."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from tests.terraform._hcl import Config, block, expr, load

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CODE_DIRS = ("shared", "functions")
ALERT_FIELD = "alert"

# Policy values no code logs yet, each with the change that adds it (none: issue 12's
# maintenance worker logs watch_repair_failed).
AWAITED: dict[str, str] = {}


def logged_extras() -> dict[str, set[str]]:
    """Every key of a logging call's literal ``extra={...}`` in the deployed code, with the
    literal values given to it (a non-literal alert value fails: it could not be checked)."""
    found: dict[str, set[str]] = {}
    for directory in CODE_DIRS:
        for path in sorted((ROOT / directory).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not isinstance(node, ast.Call):
                    continue
                for keyword in node.keywords:
                    if keyword.arg != "extra" or not isinstance(keyword.value, ast.Dict):
                        continue
                    for key, value in zip(keyword.value.keys, keyword.value.values, strict=True):
                        if not isinstance(key, ast.Constant):
                            continue
                        values = found.setdefault(str(key.value), set())
                        if isinstance(value, ast.Constant):
                            values.add(str(value.value))
                        elif key.value == ALERT_FIELD:
                            raise AssertionError(
                                f"{path}:{node.lineno}: alert value must be literal"
                            )
    return found


@pytest.fixture(scope="module")
def config() -> Config:
    return load()


@pytest.fixture(scope="module")
def extras() -> dict[str, set[str]]:
    return logged_extras()


def policy_values(config: Config) -> dict[str, set[str]]:
    policies: dict[str, Any] = config.locals["alert_policies"]
    return {name: set(policy["alerts"]) for name, policy in policies.items()}


def test_the_code_logs_alerts_under_one_field_name(extras: dict[str, set[str]]) -> None:
    assert extras[ALERT_FIELD], "no alert is logged"
    assert "alarm" not in extras, "one field name for alerts: alert"
    for value in extras[ALERT_FIELD]:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", value), value


def test_every_logged_alert_value_has_a_policy(config: Config, extras: dict[str, set[str]]) -> None:
    watched = set().union(*policy_values(config).values())
    missing = extras[ALERT_FIELD] - watched
    assert not missing, f"alert values without a policy in monitoring.tf: {sorted(missing)}"
    unused = watched - extras[ALERT_FIELD] - set(AWAITED)
    assert not unused, f"policies watch values no code logs: {sorted(unused)}"


def test_the_metric_reads_only_fields_the_code_writes(
    config: Config, extras: dict[str, set[str]]
) -> None:
    metric = config.resource("google_logging_metric", "alerts")
    texts = [expr(metric["filter"]), *map(str, metric["label_extractors"].values())]
    fields = {field for text in texts for field in re.findall(r"jsonPayload\.(\w+)", text)}
    assert fields == {ALERT_FIELD}
    assert fields <= set(extras), f"fields the code never writes: {sorted(fields - set(extras))}"
    assert metric["label_extractors"]["alert"] == "EXTRACT(jsonPayload.alert)"
    labels = block(metric, "metric_descriptor")["labels"]
    assert {label["key"] for label in labels} == set(metric["label_extractors"])


def test_each_policy_filters_the_metric_by_its_alert_values(config: Config) -> None:
    policy = config.resource("google_monitoring_alert_policy", "alert")
    assert expr(policy["for_each"]) == "local.alert_policies"
    threshold = block(block(policy, "conditions"), "condition_threshold")
    condition = expr(threshold["filter"])
    assert "local.filters.alerts" in condition
    assert "google_logging_metric.alerts.name" in expr(config.locals["filters"]["alerts"])
    assert "metric.label.alert=one_of(" in condition and "each.value.alerts" in condition
    for name, policy_entry in config.locals["alert_policies"].items():
        assert policy_entry["alerts"] and policy_entry["runbook"], name


def test_platform_signals_have_policies_and_channels_come_from_a_variable(config: Config) -> None:
    platform = config.locals["platform_policies"]
    assert set(platform) == {"dead_letters", "function_5xx", "push_job_age"}
    filters = config.locals["filters"]
    assert "num_undelivered_messages" in expr(filters["dead_letters"])
    assert "local.dead_letter_subscriptions" in expr(filters["dead_letters"])
    assert "google_pubsub_subscription.dead_letter" in expr(
        config.locals["dead_letter_subscriptions"]
    )
    assert expr(config.locals["errors_5xx"]) == (
        '${local.filters.requests} AND metric.label.response_code_class="5xx"'
    )
    assert expr(platform["function_5xx"]["denominator"]) == "local.filters.requests"
    assert 'google_pubsub_topic.topic["push-jobs"]' in expr(filters["push_job_age"])
    policies = config.of_type("google_monitoring_alert_policy")
    assert set(policies) == {"alert", "platform"}
    assert expr(policies["platform"]["for_each"]) == "local.platform_policies"
    for name, policy in policies.items():
        assert expr(policy["notification_channels"]) == "local.notification_channels", name
    channel = config.resource("google_monitoring_notification_channel", "channel")
    assert expr(channel["for_each"]) == "var.alert_notification_channels"
    assert "google_monitoring_dashboard" in {kind for kind, _ in config.resources}
