"""The demo's judgement: did every record end where it must, and the summary table that says so."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from consumer.devkit._demo_stream import REJECTED_INSTRUMENT, STALE_AGE, Expectation

__all__ = ["Observation", "RelayCounters", "Verdict", "judge", "render_summary"]

_LATENCY_METRIC = "signal_relay_consume_to_delivered_seconds"


@dataclass(frozen=True, slots=True)
class RelayCounters:
    """The relay's own counts, read from its metrics registry.

    Attributes:
        delivered: first acceptances (a 201 with `Idempotent-Replayed: true` is a duplicate).
        retries: attempts that were retried.
        dead_lettered: DLQ writes by reason.
        latency_buckets: (upper bound in seconds, cumulative count) of consume-to-201.
    """

    delivered: int
    retries: int
    dead_lettered: Mapping[str, int]
    latency_buckets: tuple[tuple[float, int], ...]

    @classmethod
    def read(cls, registry: CollectorRegistry) -> RelayCounters:
        """Snapshot the counters of one relay's registry."""
        delivered = retries = 0
        dead: dict[str, int] = {}
        buckets: list[tuple[float, int]] = []
        for metric in registry.collect():
            for sample in metric.samples:
                value = int(sample.value)
                if sample.name == "signal_relay_outcomes_total":
                    delivered += value if sample.labels.get("outcome") == "delivered" else 0
                elif sample.name == "signal_relay_retries_total":
                    retries += value
                elif sample.name == "signal_relay_dlq_records_total":
                    dead[sample.labels["reason"]] = value
                elif sample.name == f"{_LATENCY_METRIC}_bucket":
                    buckets.append((float(sample.labels["le"]), value))
        return cls(delivered, retries, dead, tuple(sorted(buckets)))

    @property
    def dead_lettered_total(self) -> int:
        """DLQ writes in all."""
        return sum(self.dead_lettered.values())

    def latency_quantile(self, q: float) -> float | None:
        """The upper bound of the histogram bucket holding quantile `q`; None without data."""
        total = self.latency_buckets[-1][1] if self.latency_buckets else 0
        if total == 0:
            return None
        for bound, count in self.latency_buckets:
            if count >= q * total:
                return bound
        return math.inf


@dataclass(frozen=True, slots=True)
class Observation:
    """What actually happened, from the receiver's ledger, the DLQ and the relay's metrics.

    Attributes:
        delivered: expected-deliverable signal ids the receiver accepted.
        accepted: every signal id the receiver accepted.
        replays: verified requests beyond the first per accepted signal (idempotent replays).
        dead_letters: records found in the DLQ per `dlq.reason`.
        relay: the relay's counters.
        elapsed_seconds: from the first publish to the end of the wait.
        metrics_url: where `/metrics` was served, if it was.
    """

    delivered: frozenset[str]
    accepted: frozenset[str]
    replays: int
    dead_letters: Mapping[str, int]
    relay: RelayCounters
    elapsed_seconds: float
    metrics_url: str | None


@dataclass(frozen=True, slots=True)
class Verdict:
    """Success, or the first reason it is not."""

    ok: bool
    reason: str


def judge(expected: Expectation, observed: Observation) -> Verdict:
    """Every deliverable signal accepted, nothing else accepted, the DLQ exactly as expected."""
    missing = len(expected.deliverable - observed.delivered)
    if missing:
        return Verdict(False, f"{missing} valid signal(s) were never delivered")
    unexpected = len(observed.accepted - expected.deliverable)
    if unexpected:
        return Verdict(False, f"the receiver accepted {unexpected} signal(s) it should not have")
    if dict(observed.dead_letters) != dict(expected.dead_letters):
        return Verdict(
            False,
            f"the DLQ holds {_by_reason(observed.dead_letters)}; "
            f"expected {_by_reason(expected.dead_letters)}",
        )
    return Verdict(
        True,
        "every valid signal delivered (those for "
        f"{REJECTED_INSTRUMENT} refused by the server with 422 and dead-lettered, as configured); "
        "every bad record dead-lettered"
        + ("; every stale signal dead-lettered as expired" if expected.stale else ""),
    )


def render_summary(expected: Expectation, observed: Observation, verdict: Verdict) -> str:
    """The end-of-demo table, one `label  value` row per line, then the result line."""
    rejected = expected.dead_letters.get("http_4xx", 0)
    p50 = observed.relay.latency_quantile(0.5)
    p99 = observed.relay.latency_quantile(0.99)
    rows = [
        ("published records", f"{expected.published}"),
        (
            "valid signals",
            f"{len(expected.signal_ids)} distinct (+{expected.duplicates} duplicate publish(es))",
        ),
        ("invalid records", f"{expected.invalid}"),
        (
            "delivered (201, unique)",
            f"{len(observed.delivered)} of {len(expected.deliverable)} deliverable",
        ),
        (f"refused by server (422, {REJECTED_INSTRUMENT})", f"{rejected} record(s)"),
        (
            "stale, not sent (expired)",
            f"{expected.dead_letters.get('expired', 0)} of {expected.stale} signal(s) "
            f"{STALE_AGE.total_seconds() / 3600:g} h old",
        ),
        ("duplicates/replays", f"{observed.replays} (answered as idempotent replays)"),
        ("retried attempts", f"{observed.relay.retries}"),
        (
            "dead-lettered",
            f"{sum(observed.dead_letters.values())} of {expected.dead_letter_total} expected: "
            f"{_by_reason(observed.dead_letters)}",
        ),
        ("consume-to-201 p50 / p99", f"{_latency(p50)} / {_latency(p99)}"),
        ("elapsed", f"{observed.elapsed_seconds:.1f} s"),
        ("metrics", observed.metrics_url or "not served (RELAY_METRICS_PORT=0)"),
    ]
    width = max(len(label) for label, _ in rows)
    lines = ["", "summary"]
    lines += [f"  {label:<{width}}  {value}" for label, value in rows]
    lines.append(f"result: {'OK' if verdict.ok else 'FAILED'}: {verdict.reason}")
    return "\n".join(lines)


def _by_reason(counts: Mapping[str, int]) -> str:
    if not counts:
        return "none"
    return ", ".join(f"{reason} {count}" for reason, count in sorted(counts.items()))


def _latency(bound: float | None) -> str:
    if bound is None:
        return "n/a"
    if math.isinf(bound):
        return "> 300 s"
    return f"<= {bound * 1000:g} ms" if bound < 1 else f"<= {bound:g} s"
