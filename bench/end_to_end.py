"""Kafka backlog to 201s: the relay, the naive baseline and the raw HTTP ceiling, side by side.

All three post to the same receiver process, whose injected latency is set per run. Every run
reads a backlog topic of its own, and the receiver's ledger is cleared before it.
"""

from __future__ import annotations

import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench.backlog import Backlog, publish_paced
from bench.processes import BenchError, run_child, sampling_rss
from bench.receiver import Receiver
from bench.relay import (
    RelayProcess,
    histogram_quantile,
    parse_histogram,
    relay_env,
    running_relay,
)

__all__ = [
    "CeilingRun",
    "NaiveRun",
    "RelayRun",
    "Stage",
    "measure_ceiling",
    "measure_naive",
    "measure_relay",
]

_LATENCY = "signal_relay_consume_to_delivered_seconds"
_REQUEST = "signal_relay_request_duration_seconds"
_DRAIN_SECONDS_PER_RECORD = 0.01
_MIN_WAIT_SECONDS = 60.0
_RELAY = (sys.executable, "-m", "consumer", "run")
# `signal-relay run` with uvloop made unimportable: the CLI falls back to asyncio.run.
_ASYNCIO_RELAY = (
    sys.executable,
    "-c",
    "import sys; sys.modules['uvloop'] = None; "
    "from consumer.cli import main; sys.exit(main(['run']))",
)


@dataclass(frozen=True, slots=True)
class Stage:
    """What every run shares: the broker, the receiver and where logs go.

    Attributes:
        bootstrap: the broker's bootstrap servers.
        receiver: the running reference receiver.
        logs: the directory child processes log into.
    """

    bootstrap: str
    receiver: Receiver
    logs: Path


@dataclass(frozen=True, slots=True)
class RelayRun:
    """One relay process draining the backlog, then relaying live traffic.

    Attributes:
        latency_ms: the receiver's injected latency.
        max_in_flight: `RELAY_MAX_IN_FLIGHT`, or None for the default.
        transport: `OUTBOUND_HTTP_TRANSPORT`, or None for the default.
        plain_asyncio: run on asyncio's own loop, uvloop hidden from the CLI.
        count: backlog signals delivered.
        rate: signals per second, first to last 201.
        p50: median fetch-to-201 seconds over the backlog (includes the wait in the buffer).
        p99: 99th percentile of the same.
        request_p50: median HTTP attempt duration.
        live_rate: signals per second published in the live phase (0: no live phase).
        live_p50: median fetch-to-201 of live traffic.
        live_p99: 99th percentile of the same.
        cpu_us: relay CPU microseconds per delivered backlog signal.
        peak_rss_mb: the relay's peak resident memory.
    """

    latency_ms: float
    max_in_flight: int | None
    transport: str | None
    plain_asyncio: bool
    count: int
    rate: float
    p50: float
    p99: float
    request_p50: float
    live_rate: float
    live_p50: float
    live_p99: float
    cpu_us: float
    peak_rss_mb: float


@dataclass(frozen=True, slots=True)
class NaiveRun:
    """The naive baseline for a fixed time.

    Attributes:
        latency_ms: the receiver's injected latency.
        count: signals delivered.
        rate: signals per second.
        p50: median fetch-to-201 seconds.
        p99: 99th percentile of the same.
    """

    latency_ms: float
    count: int
    rate: float
    p50: float
    p99: float


@dataclass(frozen=True, slots=True)
class CeilingRun:
    """Plain aiohttp POSTs, no Kafka.

    Attributes:
        latency_ms: the receiver's injected latency.
        concurrency: requests in flight.
        count: signals delivered.
        rate: signals per second.
        p50: median request seconds.
        p99: 99th percentile of the same.
    """

    latency_ms: float
    concurrency: int
    count: int
    rate: float
    p50: float
    p99: float


async def measure_relay(
    stage: Stage,
    backlog: Backlog,
    latency_ms: float,
    *,
    max_in_flight: int | None = None,
    transport: str | None = None,
    plain_asyncio: bool = False,
    live_rate: float = 0.0,
    live_seconds: float = 0.0,
) -> RelayRun:
    """Drain `backlog` with one fresh relay process (a group of its own), then go live."""
    receiver = stage.receiver
    await receiver.set_faults(latency_ms=latency_ms)
    await receiver.clear()
    overrides: dict[str, str | int] = {"KAFKA_GROUP_ID": f"relay-{uuid.uuid4().hex[:8]}"}
    if max_in_flight is not None:
        overrides["RELAY_MAX_IN_FLIGHT"] = max_in_flight
    if transport is not None:
        overrides["OUTBOUND_HTTP_TRANSPORT"] = transport
    env = relay_env(stage.bootstrap, backlog.topic, receiver.url, **overrides)
    command = _ASYNCIO_RELAY if plain_asyncio else _RELAY
    async with (
        running_relay(env, stage.logs / "relay.log", command=command) as relay,
        sampling_rss(relay.pid) as rss,
    ):
        cpu_before = rss.cpu_seconds()
        watch = await receiver.watch(backlog.count, _wait_bound(backlog.count))
        cpu = rss.cpu_seconds() - cpu_before
        backlog_buckets = parse_histogram(await relay.metrics(), _LATENCY)
        request_p50 = histogram_quantile(0.5, parse_histogram(await relay.metrics(), _REQUEST))
        live_p50 = live_p99 = float("nan")
        if live_rate and live_seconds:
            live_p50, live_p99 = await _live_phase(
                stage, backlog.topic, relay, backlog_buckets, live_rate * live_seconds, live_rate
            )
    return RelayRun(
        latency_ms=latency_ms,
        max_in_flight=max_in_flight,
        transport=transport,
        plain_asyncio=plain_asyncio,
        count=watch.last_count,
        rate=watch.rate,
        p50=histogram_quantile(0.5, backlog_buckets),
        p99=histogram_quantile(0.99, backlog_buckets),
        request_p50=request_p50,
        live_rate=live_rate if live_seconds else 0.0,
        live_p50=live_p50,
        live_p99=live_p99,
        cpu_us=cpu / watch.last_count * 1e6,
        peak_rss_mb=rss.peak / 2**20,
    )


async def _live_phase(
    stage: Stage,
    topic: str,
    relay: RelayProcess,
    before: list[tuple[float, float]],
    count: float,
    rate: float,
) -> tuple[float, float]:
    """Publish `count` signals at `rate` to the caught-up relay; latency quantiles of them."""
    target = await stage.receiver.accepted() + int(count)
    await publish_paced(stage.bootstrap, topic, int(count), rate)
    await stage.receiver.watch(target, _wait_bound(int(count)))
    after = parse_histogram(await relay.metrics(), _LATENCY)
    delta = [(bound, total - done) for (bound, total), (_, done) in zip(after, before, strict=True)]
    return histogram_quantile(0.5, delta), histogram_quantile(0.99, delta)


async def measure_naive(
    stage: Stage, backlog: Backlog, latency_ms: float, seconds: float
) -> NaiveRun:
    """Run the naive baseline (own process, own group) on `backlog` for `seconds`."""
    await stage.receiver.set_faults(latency_ms=latency_ms)
    await stage.receiver.clear()
    group = f"naive-{uuid.uuid4().hex[:8]}"
    args = [stage.bootstrap, backlog.topic, group, stage.receiver.url, str(seconds)]
    result = await run_child("bench.naive", args, stage.logs / "naive.log")
    accepted = await stage.receiver.accepted()
    if accepted != result["delivered"]:
        raise BenchError(f"naive reported {result['delivered']} but {accepted} were accepted")
    return NaiveRun(latency_ms, accepted, result["rate"], result["p50"], result["p99"])


async def measure_ceiling(
    stage: Stage, latency_ms: float, count: int, concurrency: int
) -> CeilingRun:
    """`count` signed POSTs with `concurrency` in flight from plain aiohttp (own process)."""
    await stage.receiver.set_faults(latency_ms=latency_ms)
    await stage.receiver.clear()
    args = [stage.receiver.url, str(count), str(concurrency), str(int(time.time()))]
    result = await run_child("bench.ceiling", args, stage.logs / "ceiling.log")
    accepted = await stage.receiver.accepted()
    if accepted != count:
        raise BenchError(f"ceiling: {accepted} of {count} signals accepted")
    return CeilingRun(latency_ms, concurrency, count, result["rate"], result["p50"], result["p99"])


def _wait_bound(count: int) -> float:
    return max(_MIN_WAIT_SECONDS, count * _DRAIN_SECONDS_PER_RECORD)
