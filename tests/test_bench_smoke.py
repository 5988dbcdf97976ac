"""The latency benchmark runs end to end at a tiny scale, so that `make bench` does not rot."""

from __future__ import annotations

import math
from pathlib import Path

from bench.latency import LatencyPlan, measure_latency, render_latency, replace_section

_TINY = LatencyPlan(low_rate=20.0, high_rate=100.0, low_count=5, high_count=20)


async def test_latency_bench_measures_relay_and_naive_at_both_rates(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Relay and naive loop at both rates: every signal arrives once, with a finite latency."""
    result = await measure_latency(kafka_bootstrap, tmp_path, _TINY)
    assert [(run.system, run.rate) for run in result.runs] == [
        ("relay", 20.0),
        ("naive", 20.0),
        ("relay", 100.0),
        ("naive", 100.0),
    ]
    for run in result.runs:
        assert run.count == (_TINY.low_count if run.rate == 20.0 else _TINY.high_count)
        assert 0 < run.p50 <= run.p99 <= run.worst < 60
        assert run.cpu >= 0
    assert math.isfinite(result.ratio)
    section = render_latency(result)
    assert "ratio" in section
    assert replace_section("# Results\n\n## Other\n\nx\n", section).count("## Publish-to") == 1
