"""The signals the benchmarks send: realistic records over 200 instruments, and topics of them."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import orjson
from aiokafka import AIOKafkaProducer

from consumer.tools import ensure_topic

__all__ = [
    "INSTRUMENTS",
    "PARTITIONS",
    "SECRET",
    "Backlog",
    "bench_records",
    "load_backlog",
    "new_topic",
]

SECRET = "bench-secret-0123456789abcdef"
INSTRUMENTS = 200
PARTITIONS = 6
_STRATEGIES = ("breakout-v2", "mean-revert", "momentum-15", "pairs-eu")
_TIMEFRAMES = ("1m", "5m", "15m", "1h", "4h")
_EPOCH = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
_PUBLISHER_ZONE = timezone(timedelta(hours=2))


@dataclass(frozen=True, slots=True)
class Backlog:
    """A fresh topic (and its DLQ) holding `count` signals.

    Attributes:
        topic: the topic name.
        count: how many records it holds.
        ends: one past the last offset, per partition.
    """

    topic: str
    count: int
    ends: dict[int, int]


def bench_records(
    count: int, *, seed: int = 17, tag: str = ""
) -> Iterator[tuple[bytes, dict[str, object]]]:
    """`count` (key, signal) pairs, valid, spread round-robin over the instruments.

    Half carry their own `signal_id` and half leave it to be derived; prices are strings or
    JSON numbers, `generated_at` has a +02:00 offset, a third carry a note. `tag` goes into
    every strategy, so that two topics never share a derived signal_id.
    """
    rng = random.Random(seed)
    for n in range(count):
        instrument = f"SYM{n % INSTRUMENTS:03d}/USD"
        side = "buy" if n % 2 == 0 else "sell"
        entry = round(rng.uniform(10, 5000), 2)
        step = round(entry * rng.uniform(0.005, 0.03), 2) + 0.01
        stop, take = (
            (entry - step, entry + 2 * step) if side == "buy" else (entry + step, entry - step)
        )
        signal: dict[str, object] = {
            "instrument": instrument,
            "side": side,
            "entry_price": f"{entry:.2f}" if n % 3 else entry,
            "stop_loss": f"{stop:.2f}",
            "take_profit": f"{max(take, 0.01):.2f}",
            "confidence": f"{rng.uniform(0.3, 0.99):.3f}",
            "strategy": f"{_STRATEGIES[n % len(_STRATEGIES)]}{tag}",
            "timeframe": _TIMEFRAMES[n % len(_TIMEFRAMES)],
            "generated_at": (_EPOCH + timedelta(milliseconds=n))
            .astimezone(_PUBLISHER_ZONE)
            .isoformat(),
        }
        if n % 2:
            signal["signal_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if n % 3 == 0:
            signal["note"] = f"seq={n}; breakout above the 20-bar high with rising volume"
        yield instrument.encode(), signal


async def new_topic(bootstrap: str, prefix: str, partitions: int = PARTITIONS) -> str:
    """A topic no other run uses, with its DLQ (the relay never creates either)."""
    topic = f"{prefix}-{uuid.uuid4().hex[:12]}"
    await ensure_topic(bootstrap, topic, partitions)
    await ensure_topic(bootstrap, f"{topic}.dlq")
    return topic


async def load_backlog(bootstrap: str, count: int, *, partitions: int = PARTITIONS) -> Backlog:
    """A new topic with `count` signals published into it, every one acknowledged."""
    topic = await new_topic(bootstrap, "bench", partitions)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    try:
        pending = [
            await producer.send(topic, value=orjson.dumps(signal), key=key)
            for key, signal in bench_records(count, tag=f"-{topic[-6:]}")
        ]
        written = await asyncio.gather(*pending)
    finally:
        await producer.stop()
    ends: dict[int, int] = {}
    for meta in written:
        ends[meta.partition] = max(ends.get(meta.partition, 0), meta.offset + 1)
    return Backlog(topic, count, ends)
