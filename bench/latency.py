"""Publish-to-arrival latency of paced live traffic: the relay at a high rate, the naive loop low.

For each consumer, on a topic of its own: it starts and is warmed up (a signal published every
100 ms until one arrives, so the group join is not counted), then `count` signals are
published at `rate` per second, each stamped with `time.time()` just before `producer.send`
in its `note` (which goes into the canonical body). The minimal server (`bench.answerer`)
takes the arrival time when a request's first bytes are read: latency = arrival - send, on
this machine's one clock. Both consumers use the relay's default fetch settings. Publishing
is paced by 10 ms ticks (what falls due within a tick goes together): one produce request per
signal would measure the broker's batch rate instead of the consumers.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer

from bench.answerer import SENT
from bench.children import Answerer, BenchError, child, relay_env, running_relay
from bench.records import bench_records, new_topic

__all__ = ["Latency", "measure_latency"]

_WARM_EVERY = 0.1
_WARM_SECONDS = 60.0
_SETTLE_SECONDS = 30.0
_POLL_SECONDS = 0.1
_TICK = 0.01


@dataclass(frozen=True, slots=True)
class Latency:
    """One consumer at one rate.

    Attributes:
        rate: signals per second published.
        published: signals published.
        arrived: signals that reached the server by the deadline (fewer: it fell behind).
        p50: median publish-to-arrival seconds of those that arrived.
        p99: 99th percentile of the same (nearest rank).
    """

    rate: float
    published: int
    arrived: int
    p50: float
    p99: float


async def measure_latency(
    bootstrap: str,
    answerer: Answerer,
    logs: Path,
    *,
    relay_rate: tuple[float, int],
    naive_rate: tuple[float, int],
    fetch: tuple[int, int],
) -> tuple[Latency, Latency]:
    """(relay, naive): each at its (rate, count)."""
    wait_ms, min_bytes = fetch
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    try:
        topic = await new_topic(bootstrap, "latency")
        env = relay_env(
            bootstrap,
            topic,
            answerer.url,
            KAFKA_FETCH_MAX_WAIT_MS=wait_ms,
            KAFKA_FETCH_MIN_BYTES=min_bytes,
        )
        async with running_relay(env, logs / "latency-relay.log"):
            relay = await _paced(producer, topic, answerer, *relay_rate)
        topic = await new_topic(bootstrap, "latency")
        async with _naive(bootstrap, topic, answerer, fetch, logs):
            naive = await _paced(producer, topic, answerer, *naive_rate)
    finally:
        await producer.stop()
    return relay, naive


@contextlib.asynccontextmanager
async def _naive(
    bootstrap: str, topic: str, answerer: Answerer, fetch: tuple[int, int], logs: Path
) -> AsyncIterator[None]:
    group = f"latency-naive-{uuid.uuid4().hex[:8]}"
    command = [sys.executable, "-m", "bench.naive", bootstrap, topic, group, answerer.url]
    async with child(command + [str(value) for value in fetch], logs / "latency-naive.log"):
        yield


async def _paced(
    producer: AIOKafkaProducer, topic: str, answerer: Answerer, rate: float, count: int
) -> Latency:
    await answerer.clear()
    warm = bench_records(10**6, tag=f"-warm-{topic[-6:]}")
    deadline = time.monotonic() + _WARM_SECONDS
    while await answerer.posts() == 0:
        if time.monotonic() > deadline:
            raise BenchError(f"no warm-up signal arrived within {_WARM_SECONDS:g}s")
        key, signal = next(warm)
        await producer.send(topic, value=orjson.dumps(signal), key=key)
        await asyncio.sleep(_WARM_EVERY)  # pacing the warm-up publisher
    records = list(bench_records(count, seed=41, tag=f"-lat-{topic[-6:]}"))
    pending = []
    started = time.perf_counter()
    for n, (key, signal) in enumerate(records):
        delay = started + n / rate - time.perf_counter()
        if delay > _TICK:
            await asyncio.sleep(delay)  # pacing the publisher, not waiting for a result
        signal["note"] = f"{SENT}{time.time():.6f}"
        pending.append(await producer.send(topic, value=orjson.dumps(signal), key=key))
    await asyncio.gather(*pending)
    deadline = time.monotonic() + _SETTLE_SECONDS
    while True:
        latencies: list[float] = sorted((await answerer.state())["latencies"])
        if len(latencies) >= count or time.monotonic() > deadline:
            break
        await asyncio.sleep(_POLL_SECONDS)  # polling the server's count, bounded above
    if not latencies:
        raise BenchError(f"latency: no stamped signal arrived at {rate:g}/s")
    return Latency(rate, count, len(latencies), _rank(latencies, 0.5), _rank(latencies, 0.99))


def _rank(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]
