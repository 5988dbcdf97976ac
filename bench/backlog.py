"""Pre-loading a topic with a backlog of signals, keyed by instrument."""

from __future__ import annotations

import asyncio
import time
import uuid

from aiokafka import AIOKafkaProducer

from bench.records import INSTRUMENTS, bench_records
from consumer.topics import ensure_topic

__all__ = ["PARTITIONS", "Backlog", "load_backlog"]

PARTITIONS = 6
_LINGER_MS = 20
_BATCH_BYTES = 512 * 1024


class Backlog:
    """A topic holding `count` signals over `PARTITIONS` partitions and `keys` instruments.

    Attributes:
        topic: the topic name.
        count: how many records it holds.
        keys: how many distinct keys they use.
        seconds: how long loading took.
    """

    __slots__ = ("count", "keys", "seconds", "topic")

    def __init__(self, topic: str, count: int, keys: int, seconds: float) -> None:
        self.topic = topic
        self.count = count
        self.keys = keys
        self.seconds = seconds


async def load_backlog(
    bootstrap: str, count: int, *, keys: int = INSTRUMENTS, seed: int = 17
) -> Backlog:
    """Create a fresh topic and publish `count` signals into it, every one acknowledged."""
    topic = f"bench-{uuid.uuid4().hex[:12]}"
    await ensure_topic(bootstrap, topic, PARTITIONS)
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
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return Backlog(topic, count, keys, time.perf_counter() - started)
