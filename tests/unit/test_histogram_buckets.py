"""A relay histogram counts a value in the first bucket whose `le` bound it does not exceed."""

from __future__ import annotations

import pytest

from consumer.ops import RelayMetrics

DURATION = "signal_relay_request_duration_seconds"


def _bucket(metrics: RelayMetrics, le: str) -> float | None:
    return metrics.registry.get_sample_value(f"{DURATION}_bucket", {"le": le})


@pytest.mark.parametrize(("value", "le"), [(0.005, "0.005"), (1, "1.0"), (300, "300.0")])
def test_a_value_equal_to_a_bound_lands_in_that_bucket(value: float, le: str) -> None:
    """`le` is "less than or equal": a value on a bound counts in that bound's bucket."""
    metrics = RelayMetrics()
    metrics.request_duration.observe(value)
    assert _bucket(metrics, le) == 1
    below = {"0.005": None, "1.0": "0.5", "300.0": "60.0"}[le]
    if below is not None:
        assert _bucket(metrics, below) == 0


def test_a_value_just_above_a_bound_lands_in_the_next_bucket() -> None:
    """0.0051 is counted under le=0.01, not le=0.005."""
    metrics = RelayMetrics()
    metrics.request_duration.observe(0.0051)
    assert _bucket(metrics, "0.005") == 0
    assert _bucket(metrics, "0.01") == 1


def test_a_value_above_the_last_bound_counts_only_in_inf() -> None:
    """Above the last finite bound a value counts only in +Inf, and in `_count` and `_sum`."""
    metrics = RelayMetrics()
    metrics.request_duration.observe(300.5)
    assert _bucket(metrics, "300.0") == 0
    assert _bucket(metrics, "+Inf") == 1
    assert metrics.registry.get_sample_value(f"{DURATION}_count") == 1
    assert metrics.registry.get_sample_value(f"{DURATION}_sum") == 300.5


def test_buckets_are_cumulative() -> None:
    """Each bucket counts every observation at or below its bound."""
    metrics = RelayMetrics()
    for value in (0, 0.005, 0.03, 2, 1000):
        metrics.request_duration.observe(value)
    assert _bucket(metrics, "0.005") == 2
    assert _bucket(metrics, "0.05") == 3
    assert _bucket(metrics, "2.5") == 4
    assert _bucket(metrics, "+Inf") == 5
