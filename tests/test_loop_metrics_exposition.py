"""The per-record families expose what prometheus_client's own metrics exposed for them.

The reference below is those families as `RelayMetrics` declared them with prometheus_client
before they became plain numbers (`consumer/ops/_loop_metrics.py`); both get the same updates
and are rendered in both formats. `_created` values are timestamps, so only their presence,
labels and order are compared (and that they fall within the test).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import parser as openmetrics_parser
from prometheus_client.parser import text_string_to_metric_families

from consumer.ops import RelayMetrics

# The OpenMetrics parser is untyped.
openmetrics_families: Callable[[str], Iterator[Metric]] = (
    openmetrics_parser.text_string_to_metric_families
)

LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
AGE = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400)
NAMES = (
    "signal_relay_records_consumed",
    "signal_relay_outcomes",
    "signal_relay_http_responses",
    "signal_relay_consume_to_delivered_seconds",
    "signal_relay_request_duration_seconds",
    "signal_relay_requests_in_flight",
    "signal_relay_record_age_at_delivery_seconds",
)
TEXT = "text/plain"
OPENMETRICS = "application/openmetrics-text"


class Reference:
    """The per-record families on prometheus_client, as `RelayMetrics` declared them."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.consumed = Counter(
            "signal_relay_records_consumed", "Records fetched from Kafka.", registry=r
        )
        self.outcomes = Counter(
            "signal_relay_outcomes", "Final outcomes of records.", ["outcome"], registry=r
        )
        self.http_responses = Counter(
            "signal_relay_http_responses",
            "HTTP attempts by status code ('error' when no response arrived).",
            ["status"],
            registry=r,
        )
        self.delivery_latency = Histogram(
            "signal_relay_consume_to_delivered_seconds",
            "From fetching a record to its 201.",
            buckets=LATENCY,
            registry=r,
        )
        self.request_duration = Histogram(
            "signal_relay_request_duration_seconds",
            "Duration of one HTTP attempt.",
            buckets=LATENCY,
            registry=r,
        )
        self.in_flight = Gauge(
            "signal_relay_requests_in_flight", "HTTP requests in flight.", registry=r
        )
        self.record_age = Histogram(
            "signal_relay_record_age_at_delivery_seconds",
            "From the record's Kafka timestamp to its 201.",
            buckets=AGE,
            registry=r,
        )
        self.delivered = self.outcomes.labels("delivered")
        self.duplicate = self.outcomes.labels("duplicate")


def untouched(metrics: Any) -> None:
    """No update at all: labelled families have no series yet."""


def updated(metrics: Any) -> None:
    """What a few records do, with values on, between and beyond the bucket bounds."""
    metrics.consumed.inc(5)
    metrics.consumed.inc()
    for _ in range(3):
        metrics.in_flight.inc()
    metrics.in_flight.dec()
    metrics.delivered.inc()
    metrics.outcomes.labels("dead_lettered").inc(2)
    metrics.http_responses.labels("201").inc()
    metrics.http_responses.labels("error").inc()
    metrics.http_responses.labels("201").inc()
    for value in (0, 0.005, 0.0051, 0.03, 1, 2.5, 299.99, 300, 301, 12345.5):
        metrics.request_duration.observe(value)
        metrics.delivery_latency.observe(value / 2)
        metrics.record_age.observe(value * 3)


def render(registry: CollectorRegistry, accept: str) -> str:
    encode, content_type = choose_encoder(accept)
    assert content_type.startswith(accept)
    text: str = encode(registry).decode()
    return text


def ours(text: str) -> list[str]:
    """The lines of the per-record families, `_created` values masked."""
    pattern = re.compile(rf"^(# (HELP|TYPE) )?({'|'.join(NAMES)})(_[a-z]+)?[ {{]")
    lines = [line for line in text.splitlines() if pattern.match(line)]
    return [re.sub(r"^(\S+_created(\{[^}]*\})?) \S+$", r"\1 <created>", line) for line in lines]


def parsed(text: str, accept: str) -> list[tuple[str, str, str, list[tuple[str, Any, Any]]]]:
    """The per-record families as a scraper parses them, `_created` values masked."""
    parse = openmetrics_families if accept == OPENMETRICS else text_string_to_metric_families
    return [
        (
            family.name,
            family.type,
            family.documentation,
            [
                (
                    s.name,
                    s.labels,
                    "<created>" if s.name.endswith("_created") else s.value,
                )
                for s in family.samples
            ],
        )
        for family in parse(text)
        if family.name.startswith(NAMES)
    ]


def created_values(text: str, accept: str) -> list[float]:
    parse = openmetrics_families if accept == OPENMETRICS else text_string_to_metric_families
    return [
        s.value
        for family in parse(text)
        if family.name.startswith(NAMES)
        for s in family.samples
        if s.name.endswith("_created")
    ]


@pytest.mark.parametrize("accept", [TEXT, OPENMETRICS])
@pytest.mark.parametrize("updates", [untouched, updated])
def test_the_same_exposition_as_prometheus_client(
    accept: str, updates: Callable[[Any], None]
) -> None:
    """Same names, HELP, types, labels (`le` spelling too), values and sample order."""
    started = time.time()
    reference, metrics = Reference(), RelayMetrics()
    updates(reference)
    updates(metrics)
    expected = render(reference.registry, accept)
    actual = render(metrics.registry, accept)

    assert parsed(actual, accept) == parsed(expected, accept)
    assert ours(actual) == ours(expected)
    assert len(ours(actual)) >= 2 * len(NAMES)
    created = created_values(actual, accept)
    assert len(created) == len(created_values(expected, accept)) > 0
    assert all(started <= value <= time.time() for value in created)
