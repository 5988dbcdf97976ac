"""The Grafana dashboard and the alert rules query only series the relay really exports.

Every PromQL expression of deploy/grafana/signal-relay.json (panels, template variables,
annotations) and of the alert rules parses (promtool) and names only metrics that a fresh
`RelayMetrics()` registry exposes, counted by their sample names (`_total`, `_bucket`, `_sum`,
`_count`), plus the series Prometheus makes itself (`up`, `ALERTS`).
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from promtool import run_promtool

from consumer.ops import RelayMetrics

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "deploy" / "grafana" / "signal-relay.json"
RULES = ROOT / "deploy" / "prometheus" / "signal-relay.rules.yaml"
MADE_BY_PROMETHEUS = {"up", "ALERTS"}
SAMPLE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "info": ("_info",),
    "summary": ("", "_sum", "_count", "_created"),
    "unknown": ("",),
}
# Grafana's variables, replaced by values of the same PromQL type before parsing.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "bool", "inf", "nan",
}  # fmt: skip
yaml: Any = importlib.import_module("yaml")


def exported_names() -> set[str]:
    """The sample names a relay's /metrics can carry, labelled families without children too."""
    names: set[str] = set()
    for family in RelayMetrics().registry.collect():
        names.update(family.name + suffix for suffix in SAMPLE_SUFFIXES[family.type])
        names.update(sample.name for sample in family.samples)
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels or keywords)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(r"\$\w+", " ", text)  # Grafana variables
    text = re.sub(
        r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text
    )  # label lists
    text = re.sub(r"\b\d+(?:\.\d+)?(?:e[+-]?\d+)?[a-z]*\b", " ", text, flags=re.IGNORECASE)
    return {
        name
        for name, call in re.findall(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*(\(?)", text)
        if not call and name.lower() not in KEYWORDS
    }


def dashboard_exprs() -> Iterator[tuple[str, str]]:
    """(where, expr) for every query of the dashboard."""
    dashboard = json.loads(DASHBOARD.read_text())
    panels = list(dashboard["panels"])
    while panels:
        panel = panels.pop(0)
        panels.extend(panel.get("panels", []))
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r}", target["expr"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = re.fullmatch(r"label_values\((.+),\s*\w+\)", variable["definition"])
            assert query is not None, variable["definition"]
            yield f"variable {variable['name']!r}", query.group(1)
    for annotation in dashboard["annotations"]["list"]:
        yield f"annotation {annotation['name']!r}", annotation["expr"]


def rule_exprs() -> Iterator[tuple[str, str]]:
    """(where, expr) for every rule of the alert rules file."""
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            yield f"rule {rule.get('alert') or rule['record']!r}", rule["expr"]


def test_the_metric_name_reader_sees_selectors_only() -> None:
    """Functions, label names, keywords, durations and Grafana variables are not metrics."""
    expr = (
        'histogram_quantile(0.99, sum by (le) (rate(a_bucket{job="$job", x=~"b|c"}[$__range])))'
        " / on (job) group_left (version) b_info offset 5m > bool 1e3 or absent(up) unless c"
    )
    assert metric_names(expr) == {"a_bucket", "b_info", "up", "c"}


def test_the_registry_reading_includes_counter_and_histogram_sample_names() -> None:
    """Counters count as `_total`, histograms as `_bucket`/`_sum`/`_count`; bare names do not."""
    names = exported_names()
    assert {"signal_relay_dlq_records_total", "signal_relay_retries_total"} <= names
    assert "signal_relay_request_duration_seconds_bucket" in names
    assert "signal_relay_consume_to_delivered_seconds_count" in names
    assert {"signal_relay_consumer_lag", "process_resident_memory_bytes"} <= names
    assert "signal_relay_dlq_records" not in names
    assert "signal_relay_request_duration_seconds" not in names


@pytest.mark.parametrize(
    ("source", "exprs"), [("dashboard", dashboard_exprs), ("alert rules", rule_exprs)]
)
def test_every_query_names_only_exported_metrics(
    source: str, exprs: Callable[[], Iterator[tuple[str, str]]]
) -> None:
    """Each metric name in the queries is one the relay (or Prometheus itself) produces."""
    known = exported_names() | MADE_BY_PROMETHEUS
    used: set[str] = set()
    for where, expr in exprs():
        names = metric_names(expr)
        assert names, f"{source}: {where} selects no metric: {expr}"
        unknown = names - known
        assert not unknown, f"{source}: {where} uses {sorted(unknown)}, which nothing exports"
        used |= names
    assert any(name.startswith("signal_relay_") for name in used)


def test_every_dashboard_query_parses(tmp_path: Path) -> None:
    """promtool accepts each dashboard query (Grafana variables replaced) as a recording rule."""
    rules = []
    for number, (_where, expr) in enumerate(dashboard_exprs()):
        concrete = expr
        for variable, value in GRAFANA_VARIABLES.items():
            concrete = concrete.replace(variable, value)
        rules.append({"record": f"dashboard:query_{number}", "expr": concrete})
    path = tmp_path / "dashboard.rules.yaml"
    path.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run_promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dashboard_shows_what_an_operator_watches() -> None:
    """Throughput, lag, age, in-flight, retries, DLQ, pause, held partitions, commits, latency."""
    queries = "\n".join(expr for _where, expr in dashboard_exprs())
    for metric in (
        "signal_relay_outcomes_total",
        "signal_relay_consumer_lag",
        "signal_relay_oldest_uncommitted_age_seconds",
        "signal_relay_requests_in_flight",
        "signal_relay_retries_total",
        "signal_relay_dlq_records_total",
        "signal_relay_systemic_failure",
        "signal_relay_codec_held_partitions",
        "signal_relay_transaction_held_partitions",
        "signal_relay_commit_failures_total",
        "signal_relay_request_duration_seconds_bucket",
        "signal_relay_consume_to_delivered_seconds_bucket",
    ):
        assert metric in queries, f"no panel shows {metric}"
    assert re.search(r"sum by \(outcome\) \(rate\(signal_relay_outcomes_total", queries)
    assert re.search(r"sum by \(reason\) \(rate\(signal_relay_dlq_records_total", queries)


def test_panels_do_not_overlap_and_have_unique_ids() -> None:
    """Every panel has its own id and its own place on the 24-column grid."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        area = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not area & cells, f"{panel['title']!r} overlaps another panel"
        cells |= area
