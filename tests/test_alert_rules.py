"""The Prometheus alerting rules: promtool-clean, unit-tested, one set in two wrappings.

deploy/prometheus/signal-relay.rules.yaml is the rules file; deploy/kubernetes/prometheusrule.yaml
carries the same groups for the Prometheus operator. Every alert has a severity, a summary, a
description and a runbook section, and unit tests in deploy/prometheus/tests/ that see it fire
and see it stay quiet.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

from promtool import run_promtool

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy" / "prometheus" / "signal-relay.rules.yaml"
RULE_TESTS = sorted((ROOT / "deploy" / "prometheus" / "tests").glob("*.yaml"))
PROMETHEUS_RULE = ROOT / "deploy" / "kubernetes" / "prometheusrule.yaml"
RUNBOOK = ROOT / "docs" / "RUNBOOK.md"
ALERTS = {
    "SignalRelayCodecMissing",
    "SignalRelayDeadLetterRate",
    "SignalRelayDeliveriesStopped",
    "SignalRelayDown",
    "SignalRelayLagGrowing",
    "SignalRelayOldestUnfinishedTooOld",
    "SignalRelayRejectedRate",
    "SignalRelayRetryRate",
    "SignalRelaySystemicPause",
    "SignalRelayTransactionHeld",
}
yaml: Any = importlib.import_module("yaml")


def alert_rules() -> list[dict[str, Any]]:
    """Every alerting rule of the rules file."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_promtool_check_rules_passes() -> None:
    """`promtool check rules` accepts the rules file."""
    result = run_promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_promtool_unit_tests_pass() -> None:
    """`promtool test rules` passes every unit test file of deploy/prometheus/tests."""
    assert RULE_TESTS
    result = run_promtool("test", "rules", *(str(path) for path in RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAILED" not in result.stdout + result.stderr


def test_the_rules_cover_what_an_operator_must_hear_about() -> None:
    """Stopped, lag, age, pause, DLQ, retries, rejections, held partitions, down; none twice."""
    names = [rule["alert"] for rule in alert_rules()]
    assert sorted(names) == sorted(ALERTS)


def test_every_alert_has_severity_summary_description_and_runbook() -> None:
    """severity is critical or warning; summary, description, runbook_url into RUNBOOK.md."""
    sections = {
        re.sub(r"[^a-z0-9-]", "", heading.lower().replace(" ", "-"))
        for heading in re.findall(r"^## (.+)$", RUNBOOK.read_text(), flags=re.MULTILINE)
    }
    for rule in alert_rules():
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        annotations = rule["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url"}, rule["alert"]
        page, _, anchor = annotations["runbook_url"].partition("#")
        assert page.endswith("/docs/RUNBOOK.md"), rule["alert"]
        assert anchor == rule["alert"].lower(), rule["alert"]
        assert anchor in sections, f"docs/RUNBOOK.md has no section for {rule['alert']}"


def test_every_alert_is_unit_tested_firing_and_quiet() -> None:
    """For each alert some promtool test expects it to fire and some expects no alert."""
    fired: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        document = yaml.safe_load(path.read_text())
        assert [str((path.parent / f).resolve()) for f in document["rule_files"]] == [str(RULES)]
        for test in document["tests"]:
            for case in test["alert_rule_test"]:
                (fired if case["exp_alerts"] else quiet).add(case["alertname"])
    assert fired == ALERTS
    assert quiet == ALERTS


def test_the_prometheusrule_carries_the_rules_file_groups() -> None:
    """The PrometheusRule's spec is the rules file: same groups, same text indented by two."""
    resource = yaml.safe_load(PROMETHEUS_RULE.read_text())
    assert resource["kind"] == "PrometheusRule"
    assert resource["spec"] == yaml.safe_load(RULES.read_text())
    rules_body = "".join(
        line if line == "\n" else f"  {line}"
        for line in RULES.read_text().splitlines(keepends=True)
        if not line.startswith("#")
    )
    spec_body = PROMETHEUS_RULE.read_text().split("\nspec:\n", 1)[1]
    assert spec_body == rules_body, "regenerate it as prometheusrule.yaml's header says"
