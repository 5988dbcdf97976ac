"""A labelled relay counter keeps one child per label values, each counting on its own."""

from __future__ import annotations

import pytest

from consumer.ops import RelayMetrics

RESPONSES = "signal_relay_http_responses_total"


def test_the_same_label_values_give_the_same_child() -> None:
    """`labels()` makes a child once; `delivered` is the outcomes' own `delivered` child."""
    metrics = RelayMetrics()
    assert metrics.http_responses.labels("201") is metrics.http_responses.labels("201")
    assert metrics.outcomes.labels("delivered") is metrics.delivered
    assert metrics.outcomes.labels("duplicate") is metrics.duplicate


def test_children_count_independently() -> None:
    """Incrementing one status's child leaves the others where they were."""
    metrics = RelayMetrics()
    metrics.http_responses.labels("201").inc()
    metrics.http_responses.labels("201").inc(2)
    metrics.http_responses.labels("503").inc()
    value = metrics.registry.get_sample_value
    assert value(RESPONSES, {"status": "201"}) == 3
    assert value(RESPONSES, {"status": "503"}) == 1
    assert value(RESPONSES, {"status": "error"}) is None


def test_wrong_label_count_and_unlabelled_inc_are_refused() -> None:
    """A labelled family refuses other label counts, and `.inc()` without a child."""
    metrics = RelayMetrics()
    with pytest.raises(ValueError, match="takes labels"):
        metrics.outcomes.labels("delivered", "extra")
    with pytest.raises(ValueError, match=r"use \.labels"):
        metrics.outcomes.inc()
