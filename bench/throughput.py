"""Relay throughput against the naive loop, both draining a backlog to a 20 ms server.

Each run reads a backlog topic of its own (6 partitions, 200 keys) and posts to the reference
receiver, which holds every request 20 ms; signals per second are counted at the receiver,
from the first 201 to the last (the relay: the whole backlog; the naive loop: `naive_seconds`
of it, as it would take minutes for the whole). The repeats alternate relay and naive, and
the best of each is kept: a shared machine only ever slows a run down.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from pathlib import Path

from bench.children import (
    BenchError,
    Counts,
    Receiver,
    child,
    count_until,
    relay_env,
    running_relay,
    wait_for,
)
from bench.records import load_backlog

__all__ = ["LATENCY_MS", "measure_throughput"]

LATENCY_MS = 20.0
_DRAIN_SECONDS_PER_RECORD = 0.01
_MIN_WAIT_SECONDS = 60.0
_POLL_SECONDS = 0.05


async def measure_throughput(
    bootstrap: str,
    receiver: Receiver,
    logs: Path,
    *,
    backlog: int,
    naive_seconds: float,
    repeats: int,
    fetch: tuple[int, int],
) -> tuple[float, float]:
    """(relay, naive) signals per second at `LATENCY_MS`, best of `repeats` each."""
    relay_rates, naive_rates = [], []
    for _ in range(repeats):
        relay_rates.append(await _relay(bootstrap, receiver, logs, backlog))
        naive_rates.append(await _naive(bootstrap, receiver, logs, naive_seconds, fetch))
    return max(relay_rates), max(naive_rates)


async def _relay(bootstrap: str, receiver: Receiver, logs: Path, count: int) -> float:
    records = await load_backlog(bootstrap, count)
    await receiver.set_faults(latency_ms=LATENCY_MS)
    await receiver.clear()
    env = relay_env(bootstrap, records.topic, receiver.url)
    async with running_relay(env, logs / "throughput-relay.log"):
        within = max(_MIN_WAIT_SECONDS, count * _DRAIN_SECONDS_PER_RECORD)
        counts = await count_until(receiver.accepted, count, within)
    return counts.rate()


async def _naive(
    bootstrap: str, receiver: Receiver, logs: Path, seconds: float, fetch: tuple[int, int]
) -> float:
    # More than it can deliver in `seconds`: it must never run dry.
    records = await load_backlog(bootstrap, int(seconds * 1_000))
    await receiver.set_faults(latency_ms=LATENCY_MS)
    await receiver.clear()
    group = f"naive-{uuid.uuid4().hex[:8]}"
    command = [sys.executable, "-m", "bench.naive", bootstrap, records.topic, group]
    command += [receiver.url, *map(str, fetch)]
    async with child(command, logs / "throughput-naive.log") as process:

        async def started() -> bool:
            if process.returncode is not None:
                raise BenchError(f"the naive loop exited with {process.returncode}")
            return await receiver.accepted() > 0

        await wait_for(started, _MIN_WAIT_SECONDS, "the naive loop's first 201")
        samples = []
        end = time.monotonic() + seconds
        while (now := time.monotonic()) < end:
            samples.append((now, await receiver.accepted()))
            await asyncio.sleep(_POLL_SECONDS)  # sampling a rate over a fixed window
    counts = Counts(tuple(samples))
    if counts.last >= records.count:
        raise BenchError("the naive loop ran out of backlog; give it a larger one")
    return counts.rate()
