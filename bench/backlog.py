"""Pre-loading a topic with a backlog of signals, keyed by instrument."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer

from bench.records import INSTRUMENTS, bench_records
from consumer.tools import ensure_topic

__all__ = ["PARTITIONS", "Backlog", "load_backlog", "publish_paced"]

PARTITIONS = 6
_LINGER_MS = 20
_BATCH_BYTES = 512 * 1024
_PACE_TICK = 0.01


@dataclass(frozen=True, slots=True)
class Backlog:
    """A topic holding `count` signals over `PARTITIONS` partitions and `keys` instruments.

    Attributes:
        topic: the topic name.
        count: how many records it holds.
        keys: how many distinct keys they use.
        seconds: how long loading took.
        ends: one past the last offset, per partition.
    """

    topic: str
    count: int
    keys: int
    seconds: float
    ends: dict[int, int]


async def load_backlog(
    bootstrap: str, count: int, *, keys: int = INSTRUMENTS, seed: int = 17
) -> Backlog:
    """Create a fresh topic and publish `count` signals into it, every one acknowledged."""
    topic = f"bench-{uuid.uuid4().hex[:12]}"
    await ensure_topic(bootstrap, topic, PARTITIONS)
    await ensure_topic(bootstrap, f"{topic}.dlq")  # the relay never creates its DLQ
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=_LINGER_MS,
        max_batch_size=_BATCH_BYTES,
        compression_type=None,
    )
    started = time.perf_counter()
    await producer.start()
    try:
        pending = [
            await producer.send(topic, value=record.value, key=record.key)
            for record in bench_records(count, keys=keys, seed=seed, tag=f"-{topic[-6:]}")
        ]
        written = await asyncio.gather(*pending)
    finally:
        await producer.stop()
    ends: dict[int, int] = {}
    for meta in written:
        ends[meta.partition] = max(ends.get(meta.partition, 0), meta.offset + 1)
    return Backlog(topic, count, keys, time.perf_counter() - started, ends)


async def publish_paced(
    bootstrap: str, topic: str, count: int, rate: float, *, seed: int = 29
) -> float:
    """Publish `count` new signals at about `rate` per second; returns the seconds it took.

    Each record is sent when its time comes (no linger), so they reach the relay as live
    traffic rather than as one more backlog.
    """
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    records = list(bench_records(count, seed=seed, tag=f"-live{seed}-{topic[-6:]}"))
    await producer.start()
    started = time.perf_counter()
    try:
        pending = []
        for n, record in enumerate(records):
            due = started + n / rate
            delay = due - time.perf_counter()
            if delay > _PACE_TICK:
                await asyncio.sleep(delay)
            pending.append(await producer.send(topic, value=record.value, key=record.key))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - started
