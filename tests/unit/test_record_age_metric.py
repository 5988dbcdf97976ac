"""A delivered record's age is measured from its Kafka timestamp, what a trader calls latency."""

from __future__ import annotations

import asyncio

from aiokafka.structs import ConsumerRecord
from relay_harness import encode, signal

from consumer.ops import RelayMetrics
from consumer.service import Final
from unit.doubles import NOW, TOPIC, WITHIN, rig

AGE = "signal_relay_record_age_at_delivery_seconds"


def _stamped(timestamp_ms: int) -> ConsumerRecord[bytes, bytes]:
    value = encode(signal("EURUSD", 0))
    return ConsumerRecord(TOPIC, 0, 0, timestamp_ms, 0, b"EURUSD", value, None, -1, len(value), ())


async def test_a_201_observes_now_minus_the_record_timestamp() -> None:
    """A record stamped 2.5 s before its 201 is observed as 2.5 s old."""
    r = rig()
    rec = _stamped(int(NOW * 1000) - 2500)
    final = await asyncio.wait_for(r.flow.run(rec, asyncio.Event(), 0.0), WITHIN)
    assert final is Final.DELIVERED
    registry = r.metrics.registry
    assert registry.get_sample_value(f"{AGE}_count") == 1
    assert registry.get_sample_value(f"{AGE}_sum") == 2.5


def test_no_timestamp_is_skipped_and_a_future_one_counts_as_zero() -> None:
    """Timestamp -1 observes nothing; a timestamp ahead of the clock (skew) observes 0."""
    metrics = RelayMetrics()
    metrics.observe_record_age(-1, NOW)
    assert metrics.registry.get_sample_value(f"{AGE}_count") == 0
    metrics.observe_record_age(int(NOW * 1000) + 5000, NOW)
    assert metrics.registry.get_sample_value(f"{AGE}_count") == 1
    assert metrics.registry.get_sample_value(f"{AGE}_sum") == 0
