"""`signal-relay demo`: a realistic stream, every record accounted for, a verdict that can fail."""

import os
import random
import re
import subprocess
import sys
from decimal import Decimal

from consumer.devkit import (
    DEMO_MAX_SIGNAL_AGE_SECONDS,
    INVALID_KINDS,
    REJECTED_INSTRUMENT,
    Observation,
    RelayCounters,
    build_stream,
    judge,
    render_summary,
)
from schemas.errors import RecordError
from schemas.record import parse_candidate


def test_stream_signals_are_realistic_and_bad_records_are_bad() -> None:
    """Valid signals put stop-loss and take-profit on the right sides; every bad kind is there."""
    stream = build_stream(300, rng=random.Random(3))
    kinds = {record.kind for record in stream.records}
    assert set(INVALID_KINDS) <= kinds
    instruments = set()
    for record in stream.records:
        if record.kind in INVALID_KINDS:
            try:
                parse_candidate(record.value, max_size=65536)
            except RecordError:
                continue
            raise AssertionError(f"{record.kind} record is valid: {record.value[:80]!r}")
        candidate = parse_candidate(record.value)
        instruments.add(candidate.instrument)
        assert record.key == candidate.instrument.encode()
        assert candidate.stop_loss is not None
        assert candidate.take_profit is not None
        below, above = (
            (candidate.stop_loss, candidate.take_profit)
            if candidate.side == "buy"
            else (candidate.take_profit, candidate.stop_loss)
        )
        assert Decimal(0) < below < candidate.entry_price < above
    assert {"EURUSD", "BTC-USD", "AAPL", "ES.Z26", "XAU/USD", REJECTED_INSTRUMENT} <= instruments


def test_expectation_counts_what_the_relay_will_do() -> None:
    """Duplicates share ids; the rejected instrument's records and bad records are DLQ-bound."""
    stream = build_stream(200, rng=random.Random(5))
    expected = stream.expectation
    signals = [r for r in stream.records if r.kind == "signal"]
    rejected = sum(
        r.key == REJECTED_INSTRUMENT.encode() for r in stream.records if r.kind not in INVALID_KINDS
    )
    assert expected.published == len(stream.records)
    assert len(signals) == 200
    assert len(expected.signal_ids) == 200 + expected.stale
    assert expected.duplicates == len(stream.records) - 200 - expected.invalid - expected.stale
    assert expected.dead_letters["http_4xx"] == rejected > 0
    assert expected.dead_letter_total == rejected + expected.invalid
    assert expected.deliverable < expected.signal_ids


def test_stale_signals_are_expected_to_expire_under_the_demo_age_limit() -> None:
    """Under the demo's age limit the two-hour-old signals are DLQ-bound as `expired`, not sent."""
    stream = build_stream(200, rng=random.Random(5), max_age_seconds=DEMO_MAX_SIGNAL_AGE_SECONDS)
    expected = stream.expectation
    stale = [r for r in stream.records if r.kind == "stale"]
    assert expected.stale == len(stale) >= 2
    assert expected.dead_letters["expired"] == expected.stale
    assert len(expected.deliverable) == len(expected.signal_ids) - expected.stale - sum(
        r.key == REJECTED_INSTRUMENT.encode() for r in stream.records if r.kind == "signal"
    )


def test_verdict_fails_on_a_missing_delivery_or_a_dlq_surprise() -> None:
    """The verdict is OK only when every deliverable signal arrived and the DLQ is as expected."""
    expected = build_stream(40, rng=random.Random(8)).expectation
    counters = RelayCounters(0, 0, {}, ())

    def observed(delivered: frozenset[str], dead: dict[str, int]) -> Observation:
        return Observation(delivered, delivered, 0, dead, counters, 1.0, None)

    complete = observed(expected.deliverable, dict(expected.dead_letters))
    assert judge(expected, complete).ok
    one_missing = observed(frozenset(sorted(expected.deliverable)[1:]), dict(expected.dead_letters))
    verdict = judge(expected, one_missing)
    assert not verdict.ok
    assert verdict.reason == "1 valid signal(s) were never delivered"
    surprise = observed(expected.deliverable, {**expected.dead_letters, "max_attempts": 1})
    assert "max_attempts 1" in judge(expected, surprise).reason
    assert "result: FAILED" in render_summary(expected, surprise, judge(expected, surprise))


def test_demo_delivers_every_valid_signal_and_dead_letters_every_bad_record(
    kafka_bootstrap: str,
) -> None:
    """`signal-relay demo --signals 120` on the session broker ends OK with the full summary."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RELAY_", "KAFKA_"))}
    env["KAFKA_BOOTSTRAP_SERVERS"] = kafka_bootstrap
    done = subprocess.run(
        [sys.executable, "-m", "consumer", "demo", "--signals", "120", "--rate", "400"],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "broker: external" in done.stdout
    assert re.search(r"\] published \d+/\d+  delivered \d+  retried \d+", done.stdout)
    summary = done.stdout[done.stdout.index("\nsummary\n") :]
    assert "published records" in summary
    assert "dead-lettered" in summary
    assert "consume-to-201 p50 / p99" in summary
    assert "/metrics" in summary
    result = summary.splitlines()[-1]
    assert result.startswith("result: OK: every valid signal delivered")
    assert "every bad record dead-lettered" in result
    assert "every stale signal dead-lettered as expired" in result
    assert "stale, not sent (expired)" in summary
