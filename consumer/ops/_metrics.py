"""Prometheus metrics of one relay process, on a registry of its own, and their exposition."""

from __future__ import annotations

import platform
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.exposition import choose_encoder

from consumer import __version__
from consumer.ops._loop_metrics import LoopMetrics

__all__ = ["Exposition", "RelayMetrics"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
# A record's age spans the producer's side too, and outages: up to hours.
_AGE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400)


@dataclass(frozen=True, slots=True)
class Exposition:
    """One rendering of the metrics, in the format the scraper asked for.

    Attributes:
        body: The exposition itself.
        content_type: Its media type, for the `Content-Type` header.
    """

    body: bytes
    content_type: str


class RelayMetrics:
    """Every series the relay exports; children for hot labels are bound once.

    The families updated for every record (consumed, outcomes, HTTP responses, the latency,
    duration and age histograms, requests in flight) are plain numbers updated only from the
    event loop (`consumer/ops/_loop_metrics.py`); the rest are prometheus_client's own.

    Besides the relay's own series the registry carries the process collector (CPU, memory,
    open file descriptors), the platform collector (`python_info`) and
    `signal_relay_build_info{version, python}`, always 1.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        Gauge(
            "signal_relay_build_info",
            "The relay's version and the Python that runs it; always 1.",
            ["version", "python"],
            registry=r,
        ).labels(__version__, platform.python_version()).set(1)
        # Updated on every record, from the event loop only: plain numbers (`_loop_metrics`).
        loop = LoopMetrics()
        self.consumed = loop.counter("signal_relay_records_consumed", "Records fetched from Kafka.")
        self.outcomes = loop.counter(
            "signal_relay_outcomes", "Final outcomes of records.", ["outcome"]
        )
        self.http_responses = loop.counter(
            "signal_relay_http_responses",
            "HTTP attempts by status code ('error' when no response arrived).",
            ["status"],
        )
        self.delivery_latency = loop.histogram(
            "signal_relay_consume_to_delivered_seconds",
            "From fetching a record to its 201.",
            _LATENCY_BUCKETS,
        )
        self.request_duration = loop.histogram(
            "signal_relay_request_duration_seconds",
            "Duration of one HTTP attempt.",
            _LATENCY_BUCKETS,
        )
        self.in_flight = loop.gauge("signal_relay_requests_in_flight", "HTTP requests in flight.")
        self.record_age = loop.histogram(
            "signal_relay_record_age_at_delivery_seconds",
            "From the record's Kafka timestamp to its 201.",
            _AGE_BUCKETS,
        )
        r.register(loop)
        self.lag = Gauge(
            "signal_relay_consumer_lag",
            "Log end minus the group's position, per partition this process owns.",
            ["group", "topic", "partition"],
            registry=r,
        )
        self.rebalances = Counter(
            "signal_relay_rebalances",
            "Completed partition assignments (consumer-group rebalances) of this process.",
            ["group"],
            registry=r,
        )
        self.assigned_partitions = Gauge(
            "signal_relay_assigned_partitions",
            "Partitions this process owns.",
            ["group"],
            registry=r,
        )
        self.transaction_held_partitions = Gauge(
            "signal_relay_transaction_held_partitions",
            "Owned partitions read up to their last stable offset while an open transaction "
            "holds back the records above it (read_committed).",
            ["group"],
            registry=r,
        )
        self.oldest_uncommitted_age = Gauge(
            "signal_relay_oldest_uncommitted_age_seconds",
            "Age of the oldest fetched record that is not yet committable.",
            registry=r,
        )
        self.dead_lettered = Counter(
            "signal_relay_dlq_records", "Records written to the DLQ.", ["reason"], registry=r
        )
        self.retries = Counter("signal_relay_retries", "Attempts that will be retried.", registry=r)
        self.paused_partitions = Gauge(
            "signal_relay_paused_partitions", "Partitions paused by backpressure.", registry=r
        )
        self.codec_held_partitions = Gauge(
            "signal_relay_codec_held_partitions",
            "Partitions held at a batch whose compression codec this process lacks.",
            registry=r,
        )
        self.systemic_failure = Gauge(
            "signal_relay_systemic_failure",
            "1 while deliveries are paused by a systemic failure (401/403/404/405).",
            registry=r,
        )
        self.record_errors = Counter(
            "signal_relay_record_errors",
            "Unexpected errors while handling a record; the record is tried again.",
            registry=r,
        )
        self.dlq_write_failures = Counter(
            "signal_relay_dlq_write_failures",
            "Dead-letter writes that failed and are retried (the source offset waits).",
            registry=r,
        )
        self.commits = Counter("signal_relay_commits", "Offset commits.", registry=r)
        self.commit_failures = Counter(
            "signal_relay_commit_failures", "Offset commits that failed.", registry=r
        )
        self.skipped_finished = Counter(
            "signal_relay_skipped_finished",
            "Records skipped on assignment: an earlier owner finished them (commit metadata).",
            registry=r,
        )
        self.delivered = self.outcomes.labels("delivered")
        self.duplicate = self.outcomes.labels("duplicate")

    def observe_record_age(self, timestamp_ms: int, now: float) -> None:
        """Observe a delivered record's age: `now` (epoch seconds) minus its Kafka timestamp.

        Records without a timestamp (-1) are skipped; a timestamp ahead of `now` (clock skew)
        counts as age 0.
        """
        if timestamp_ms >= 0:
            self.record_age.observe(max(0.0, now - timestamp_ms / 1000))

    def render(self, accept: str = "") -> Exposition:
        """OpenMetrics when the `Accept` header asks for it, else the Prometheus text format."""
        encode, content_type = choose_encoder(accept)
        return Exposition(encode(self.registry), content_type)
