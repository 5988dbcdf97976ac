"""Publish-to-arrival latency of paced live traffic: the relay against the naive loop.

For each system (the relay, `signal-relay run`; the naive one-at-a-time loop, bench/naive.py)
and each rate, on a fresh topic: the consumer starts and is warmed up (records published until
one arrives), then `count` signals are published at `rate` per second. Each carries its
producer send time (`time.time()` just before `producer.send`) in its `note`, which goes into
the canonical body; a timing server in a process of its own notes the arrival time of each
request (before reading its body) and answers 201. Latency = arrival - send, both read from
this machine's one wall clock. Both consumers use the relay's default fetch settings
(`KAFKA_FETCH_MAX_WAIT_MS`, `KAFKA_FETCH_MIN_BYTES`).

Pacing is by 10 ms ticks: with one produce request (one record batch) per signal, the local
broker and both consumers fall behind at 2,000/s (the relay measured 7.7 s median then), so
the figure would measure the broker's batch rate rather than the consumers.

The relay's Kafka record timestamp to 201 is read from its own histogram when it exports one
(`signal_relay_record_age_at_delivery_seconds`); without it that line is left out.

`python -m bench.latency [--quick] [--write]` runs this step alone (`--write` puts its section
into bench/RESULTS.md); `python -m bench` runs it with the rest. `python -m bench.latency serve
PORT` is the timing server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import aiohttp
import orjson
import psutil
from aiokafka import AIOKafkaProducer

from bench.backlog import PARTITIONS
from bench.loops import run_fast
from bench.processes import BenchError, free_port, start_process, stop_process, wait_for
from bench.records import SECRET, bench_records
from bench.relay import histogram_quantile, parse_histogram, relay_env, running_relay
from consumer.config import load_settings
from consumer.tools import ensure_topic

__all__ = [
    "FULL_PLAN",
    "QUICK_PLAN",
    "SECTION",
    "LatencyPlan",
    "LatencyResult",
    "LatencyRun",
    "measure_latency",
    "render_latency",
    "replace_section",
]

AGE_HISTOGRAMS = (
    "signal_relay_record_age_at_delivery_seconds",
    "signal_relay_record_age_seconds",
)
"""The relay's Kafka-timestamp-to-201 histogram, under the names it may carry; first found wins."""
TARGET_RATIO = 2.0
"""The relay's p99 at the high rate may be at most this many times the naive p99 at the low rate."""

_PATH = "/api/v1/signals/ingest"
_SENT = "sent="
_WARM = "warm "
_WARM_EVERY = 0.1
_WARM_SECONDS = 60.0
_SETTLE_SECONDS = 30.0
_POLL_SECONDS = 0.1
_START_SECONDS = 20.0
_PACE_TICK = 0.01  # as bench/backlog.publish_paced: what falls due within 10 ms goes together
_HERE = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class LatencyPlan:
    """Rates and how many signals each run publishes.

    Attributes:
        low_rate: the low rate, signals per second.
        high_rate: the high rate.
        low_count: signals published at the low rate.
        high_count: signals published at the high rate.
    """

    low_rate: float
    high_rate: float
    low_count: int
    high_count: int


FULL_PLAN = LatencyPlan(low_rate=20.0, high_rate=2_000.0, low_count=400, high_count=20_000)
QUICK_PLAN = LatencyPlan(low_rate=20.0, high_rate=200.0, low_count=20, high_count=200)


@dataclass(frozen=True, slots=True)
class LatencyRun:
    """One system at one rate.

    Attributes:
        system: "relay" or "naive".
        rate: signals per second published.
        published: signals published in the paced phase.
        count: signals that arrived by the deadline (each once: repeats are not counted);
            fewer than `published` when the system fell behind the rate.
        p50: median publish-to-arrival seconds.
        p99: 99th percentile of the same.
        worst: the largest.
        achieved_rate: signals per second actually published.
        cpu: the consumer's CPU seconds per wall second while it was measured (1.0 = a core).
        load: the machine's 1-minute load average at the end of the run.
        age_p50: median Kafka-timestamp-to-201 seconds (relay histogram), or NaN.
        age_p99: 99th percentile of the same, or NaN.
    """

    system: str
    rate: float
    published: int
    count: int
    p50: float
    p99: float
    worst: float
    achieved_rate: float
    cpu: float
    load: float
    age_p50: float = math.nan
    age_p99: float = math.nan


@dataclass(frozen=True, slots=True)
class LatencyResult:
    """Every run, and the settings they shared.

    Attributes:
        plan: the rates and counts.
        runs: relay and naive at the low and the high rate.
        fetch_max_wait_ms: KAFKA_FETCH_MAX_WAIT_MS of both consumers (the relay's default).
        fetch_min_bytes: KAFKA_FETCH_MIN_BYTES of both.
        age_metric: the relay's record-age histogram name, or "" when it exports none.
    """

    plan: LatencyPlan
    runs: tuple[LatencyRun, ...]
    fetch_max_wait_ms: int
    fetch_min_bytes: int
    age_metric: str

    def run(self, system: str, rate: float) -> LatencyRun:
        """The run of `system` at `rate`."""
        return next(r for r in self.runs if r.system == system and r.rate == rate)

    @property
    def ratio(self) -> float:
        """Relay p99 at the high rate over naive p99 at the low rate (target: <= 2)."""
        relay = self.run("relay", self.plan.high_rate).p99
        return relay / self.run("naive", self.plan.low_rate).p99


# -- the timing server (its own process) -----------------------------------------------------


def _serve(port: int) -> None:
    """Answer every ingest POST with 201; keep publish-to-arrival per signal; `/_latency`.

    A minimal HTTP/1.1 server on asyncio's protocol layer (keep-alive, Content-Length bodies):
    the harness must take as little of the machine's CPU as it can, since the consumers under
    test share it. The arrival time is taken when the request's first bytes are read.
    """
    state = _Arrivals()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _TimingProtocol(state), "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    run_fast(main())


class _Arrivals:
    """What the timing server keeps: publish-to-arrival per signal id, and warm-ups seen."""

    def __init__(self) -> None:
        self.latencies: dict[str, float] = {}  # first arrival only: a re-send is not counted
        self.warm = 0

    def answer(self, method: bytes, path: bytes, body: bytes, arrived: float) -> bytes:
        """The response to one request, as bytes on the wire."""
        if method == b"POST" and path == _PATH.encode():
            signal = orjson.loads(body)
            signal_id, note = signal["signal_id"], signal.get("note", "")
            if note.startswith(_SENT):
                self.latencies.setdefault(signal_id, arrived - float(note[len(_SENT) :]))
            elif note.startswith(_WARM):
                self.warm += 1
            reply = {"signal_id": signal_id, "status": "received", "server_timestamp": arrived}
            return _response(b"201 Created", orjson.dumps(reply))
        if path == b"/_latency" and method == b"GET":
            reply = {"warm": self.warm, "latencies": list(self.latencies.values())}
            return _response(b"200 OK", orjson.dumps(reply))
        if path == b"/_latency" and method == b"DELETE":
            self.latencies.clear()
            self.warm = 0
            return _response(b"200 OK", b"{}")
        return _response(b"404 Not Found", b"{}")


def _response(status: bytes, body: bytes) -> bytes:
    head = b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    return head % (status, len(body)) + body


class _TimingProtocol(asyncio.Protocol):
    """One connection: requests parsed one after another from the byte stream."""

    def __init__(self, state: _Arrivals) -> None:
        self._state = state
        self._buffer = b""
        self._arrived = 0.0
        self._transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.WriteTransport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        if not self._buffer:
            self._arrived = time.time()  # the first bytes of a request
        self._buffer += data
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            head = self._buffer[:end].split(b"\r\n")
            length = 0
            for line in head[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self._buffer) < end + 4 + length:
                return  # the body is still coming
            body = self._buffer[end + 4 : end + 4 + length]
            self._buffer = self._buffer[end + 4 + length :]
            method, path = head[0].split(b" ")[:2]
            assert self._transport is not None
            self._transport.write(self._state.answer(method, path, body, self._arrived))
            self._arrived = time.time()  # pipelined bytes already here belong to the next


class _TimingServer:
    """Control of the running timing server."""

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self._session = session

    async def state(self) -> dict[str, Any]:
        async with self._session.get(f"{self.url}/_latency") as response:
            state: dict[str, Any] = await response.json()
            return state

    async def clear(self) -> None:
        async with self._session.delete(f"{self.url}/_latency") as response:
            await response.read()


@contextlib.asynccontextmanager
async def _timing_server(logs: Path) -> AsyncIterator[_TimingServer]:
    port = free_port()
    command = [sys.executable, "-m", "bench.latency", "serve", str(port)]
    process = await start_process(command, {}, logs / "latency-server.log")
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            server = _TimingServer(url, session)

            async def up() -> bool:
                if process.returncode is not None:
                    raise BenchError(f"the timing server exited with {process.returncode}")
                try:
                    await server.state()
                except aiohttp.ClientError:
                    return False
                return True

            await wait_for(up, _START_SECONDS, "the timing server to answer")
            yield server
    finally:
        await stop_process(process)


# -- publishing ------------------------------------------------------------------------------


class _Publisher:
    """Paced publishing of signals stamped with their send time."""

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self._producer = producer
        self._topic = topic

    async def warm_up(self, server: _TimingServer, tag: str) -> None:
        """Publish a record every 100 ms until one has arrived: the consumer is in place."""
        records = bench_records(10**6, tag=f"-warm-{tag}")
        deadline = time.monotonic() + _WARM_SECONDS
        while (await server.state())["warm"] == 0:
            if time.monotonic() > deadline:
                raise BenchError(f"no warm-up signal arrived within {_WARM_SECONDS:g}s")
            record = next(records)
            signal = orjson.loads(record.value)
            signal["note"] = f"{_WARM}{tag}"
            await self._producer.send(self._topic, value=orjson.dumps(signal), key=record.key)
            await asyncio.sleep(_WARM_EVERY)

    async def paced(self, count: int, rate: float, tag: str) -> float:
        """Publish `count` signals at `rate` per second; returns the rate achieved."""
        signals = []
        for record in bench_records(count, tag=f"-lat-{tag}", seed=41):
            signal = orjson.loads(record.value)
            signal.pop("note", None)
            signals.append((record.key, signal))
        send, topic = self._producer.send, self._topic
        pending = []
        started = time.perf_counter()
        for n, (key, signal) in enumerate(signals):
            delay = started + n / rate - time.perf_counter()
            if delay > _PACE_TICK:
                await asyncio.sleep(delay)  # pacing the producer, not waiting for a result
            signal["note"] = f"{_SENT}{time.time():.6f}"
            pending.append(await send(topic, value=orjson.dumps(signal), key=key))
        await asyncio.gather(*pending)
        elapsed = time.perf_counter() - started
        return count / elapsed if elapsed > 0 else math.inf


# -- the runs --------------------------------------------------------------------------------


async def measure_latency(
    bootstrap: str, logs: Path, plan: LatencyPlan = FULL_PLAN
) -> LatencyResult:
    """Relay and naive loop, each at the low and the high rate, on one broker."""
    defaults = load_settings(
        {"PRODUCER_ID": "bench", "HMAC_PRODUCER_SECRET": SECRET, "OUTBOUND_SERVER_URL": "http://x"}
    )
    fetch = {
        "KAFKA_FETCH_MAX_WAIT_MS": defaults.fetch_max_wait_ms,
        "KAFKA_FETCH_MIN_BYTES": defaults.fetch_min_bytes,
    }
    runs: list[LatencyRun] = []
    age_metric = ""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    try:
        async with _timing_server(logs) as server:
            for rate, count in ((plan.low_rate, plan.low_count), (plan.high_rate, plan.high_count)):
                for system in ("relay", "naive"):
                    topic = f"latency-{uuid.uuid4().hex[:12]}"
                    await ensure_topic(bootstrap, topic, PARTITIONS)
                    await ensure_topic(bootstrap, f"{topic}.dlq")
                    await server.clear()
                    publisher = _Publisher(producer, topic)
                    print(f"bench: latency: {system} at {rate:g}/s", file=sys.stderr, flush=True)
                    if system == "relay":
                        run, found = await _relay_run(
                            bootstrap, topic, server, publisher, rate, count, fetch, logs
                        )
                        age_metric = age_metric or found
                    else:
                        run = await _naive_run(
                            bootstrap, topic, server, publisher, rate, count, fetch, logs
                        )
                    runs.append(run)
    finally:
        await producer.stop()
    return LatencyResult(
        plan=plan,
        runs=tuple(runs),
        fetch_max_wait_ms=defaults.fetch_max_wait_ms,
        fetch_min_bytes=defaults.fetch_min_bytes,
        age_metric=age_metric,
    )


async def _relay_run(
    bootstrap: str,
    topic: str,
    server: _TimingServer,
    publisher: _Publisher,
    rate: float,
    count: int,
    fetch: dict[str, int],
    logs: Path,
) -> tuple[LatencyRun, str]:
    group = f"latency-relay-{uuid.uuid4().hex[:8]}"
    env = relay_env(bootstrap, topic, server.url, KAFKA_GROUP_ID=group, **fetch)
    async with running_relay(env, logs / "latency-relay.log") as relay:
        await publisher.warm_up(server, group)
        before = await relay.metrics()
        with _cpu_watch(relay.pid) as cpu:
            achieved = await publisher.paced(count, rate, group)
            latencies = await _arrivals(server, count, rate)
            share = cpu.share()
        after = await relay.metrics()
    name, age_p50, age_p99 = _age_quantiles(before, after)
    run = _run("relay", rate, count, latencies, achieved, share, age_p50, age_p99)
    return run, name


async def _naive_run(
    bootstrap: str,
    topic: str,
    server: _TimingServer,
    publisher: _Publisher,
    rate: float,
    count: int,
    fetch: dict[str, int],
    logs: Path,
) -> LatencyRun:
    group = f"latency-naive-{uuid.uuid4().hex[:8]}"
    # It stops on its own after this long; it is stopped as soon as every signal arrived.
    seconds = _WARM_SECONDS + count / rate + _SETTLE_SECONDS
    command = [
        sys.executable,
        "-m",
        "bench.naive",
        bootstrap,
        topic,
        group,
        server.url,
        f"{seconds:g}",
        str(fetch["KAFKA_FETCH_MAX_WAIT_MS"]),
        str(fetch["KAFKA_FETCH_MIN_BYTES"]),
    ]
    process = await start_process(command, {}, logs / "latency-naive.log")
    try:
        await publisher.warm_up(server, group)
        with _cpu_watch(process.pid) as cpu:
            achieved = await publisher.paced(count, rate, group)
            latencies = await _arrivals(server, count, rate)
            share = cpu.share()
    finally:
        await stop_process(process)
    return _run("naive", rate, count, latencies, achieved, share)


async def _arrivals(server: _TimingServer, count: int, rate: float) -> list[float]:
    """The latencies once all `count` signals arrived, or those that had by the deadline.

    The deadline is the publishing time plus 30 s: a consumer slower than `rate` falls
    further behind with every signal, and what it delivered by then is reported as such.
    """
    deadline = time.monotonic() + count / rate + _SETTLE_SECONDS
    while True:
        latencies: list[float] = (await server.state())["latencies"]
        if len(latencies) >= count or time.monotonic() > deadline:
            return sorted(latencies)
        await asyncio.sleep(_POLL_SECONDS)  # polling the server's count, bounded above


def _run(
    system: str,
    rate: float,
    published: int,
    latencies: list[float],
    achieved: float,
    cpu_share: tuple[float, float],
    age_p50: float = math.nan,
    age_p99: float = math.nan,
) -> LatencyRun:
    if not latencies:
        raise BenchError(f"latency: no signal reached the server from the {system} at {rate:g}/s")
    return LatencyRun(
        system=system,
        rate=rate,
        published=published,
        count=len(latencies),
        p50=_quantile(latencies, 0.5),
        p99=_quantile(latencies, 0.99),
        worst=latencies[-1],
        achieved_rate=achieved,
        cpu=cpu_share[0],
        load=cpu_share[1],
        age_p50=age_p50,
        age_p99=age_p99,
    )


class _CpuWatch:
    """CPU seconds of one process over a stretch of wall time."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self._cpu = self._seconds()
        self._wall = time.monotonic()

    def _seconds(self) -> float:
        try:
            times = self._process.cpu_times()
        except psutil.Error:
            return math.nan
        return float(times.user + times.system)

    def share(self) -> tuple[float, float]:
        """(CPU seconds per wall second since the start, the 1-minute load average now)."""
        wall = time.monotonic() - self._wall
        return (self._seconds() - self._cpu) / wall, os.getloadavg()[0]


@contextlib.contextmanager
def _cpu_watch(pid: int) -> Iterator[_CpuWatch]:
    yield _CpuWatch(pid)


def _quantile(ordered: list[float], q: float) -> float:
    """The nearest-rank quantile of a sorted list."""
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _age_quantiles(before: str, after: str) -> tuple[str, float, float]:
    """p50 and p99 of the relay's record-age histogram over the paced phase, if it has one."""
    for name in AGE_HISTOGRAMS:
        start, end = parse_histogram(before, name), parse_histogram(after, name)
        if end:
            done = dict(start)
            delta = [(bound, total - done.get(bound, 0.0)) for bound, total in end]
            return name, histogram_quantile(0.5, delta), histogram_quantile(0.99, delta)
    return "", math.nan, math.nan


# -- the report ------------------------------------------------------------------------------

SECTION = "## Publish-to-arrival latency"


def render_latency(result: LatencyResult) -> str:
    """The RESULTS.md section: every run, the target line and how it was measured."""
    plan = result.plan
    rows = [
        f"| {run.system} | {run.rate:,.0f}/s ({run.achieved_rate:,.0f}/s achieved) | "
        f"{_arrived(run)} | {_ms(run.p50)} | {_ms(run.p99)} | {_ms(run.worst)} | "
        f"{_age(run)} | {run.cpu:.2f} | {run.load:.1f} |"
        for run in result.runs
    ]
    ratio = result.ratio
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    age_note = (
        f"Kafka record timestamp to 201: the relay's `{result.age_metric}` histogram over "
        "the paced phase (bucket-interpolated)."
        if result.age_metric
        else "Kafka record timestamp to 201: not measured; the relay exports no record-age "
        f"histogram (looked for {', '.join(f'`{n}`' for n in AGE_HISTOGRAMS)})."
    )
    return "\n".join(
        [
            SECTION,
            "",
            f"Paced live traffic, producer send to the request reaching the server, "
            f"{plan.low_count:,} signals at {plan.low_rate:g}/s and {plan.high_count:,} at "
            f"{plan.high_rate:,.0f}/s, over {PARTITIONS} partitions and 200 instruments. "
            f"Both consumers: KAFKA_FETCH_MAX_WAIT_MS={result.fetch_max_wait_ms}, "
            f"KAFKA_FETCH_MIN_BYTES={result.fetch_min_bytes} (the relay's defaults).",
            "",
            "| system | rate | signals arrived | p50 | p99 | max "
            "| record timestamp to 201 p50 / p99 | consumer CPU (cores) | load |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"**Target: relay p99 at {plan.high_rate:,.0f}/s at most {TARGET_RATIO:g}x the naive "
            f"loop's p99 at {plan.low_rate:g}/s: "
            f"{_ms(result.run('relay', plan.high_rate).p99)} vs "
            f"{_ms(result.run('naive', plan.low_rate).p99)}, ratio {ratio:.2f}: {verdict}.**",
            "",
            _bounds(result),
            "",
            "How: each signal carries `time.time()` taken just before `producer.send` in its "
            "`note`; a timing server (bench/latency.py, a minimal HTTP/1.1 server in its own "
            "process) takes `time.time()` when a request's first bytes are read, and answers "
            "201 at once. The producer (acks=all, linger 0) sends each signal when it falls "
            f"due, {_PACE_TICK * 1000:g} ms at a time (what falls due within a tick goes "
            "together, as bench/backlog.py's paced publishing does). The consumer is warmed up "
            "first (signals published until one arrives), so group join and connection set-up "
            "are not counted. A system that cannot keep up with the rate falls further behind "
            "with every signal: it is reported with what arrived by the deadline. Consumer CPU "
            "is the consumer process's CPU seconds per wall second over the paced phase and "
            "the wait for arrivals; load is the machine's 1-minute load average after it "
            f"({os.cpu_count()} cores, shared). " + age_note,
            "",
        ]
    )


def _bounds(result: LatencyResult) -> str:
    """What this run's own figures say bounds the latency."""
    plan = result.plan
    low, high = result.run("relay", plan.low_rate), result.run("relay", plan.high_rate)
    naive_low = result.run("naive", plan.low_rate)
    text = (
        f"At {plan.low_rate:g}/s both consumers wait on the fetch: p50 {_ms(low.p50)} (relay) "
        f"and {_ms(naive_low.p50)} (naive) with a fetch wait of up to "
        f"{result.fetch_max_wait_ms} ms."
    )
    if result.ratio > TARGET_RATIO:
        text += (
            f" At {plan.high_rate:,.0f}/s the relay's tail is a queue: signals waited for it "
            f"while it had {high.cpu:.2f} of a core, with the machine's load average at "
            f"{high.load:.1f} on {os.cpu_count()} cores that also run the broker, the publisher "
            "and the timing server."
        )
    return text


def _ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


def _arrived(run: LatencyRun) -> str:
    if run.count >= run.published:
        return f"{run.count:,}"
    return (
        f"**{run.count:,} of {run.published:,}** (fell behind: the rest had not arrived "
        f"{_SETTLE_SECONDS:g} s after the last was sent; latencies are of those that had)"
    )


def _age(run: LatencyRun) -> str:
    if math.isnan(run.age_p50):
        return "n/a"
    return f"{_ms(run.age_p50)} / {_ms(run.age_p99)}"


def replace_section(markdown: str, section: str) -> str:
    """`markdown` with its latency section replaced by `section` (appended when absent)."""
    start = markdown.find(SECTION)
    if start < 0:
        return markdown.rstrip("\n") + "\n\n" + section
    end = markdown.find("\n## ", start + len(SECTION))
    rest = "" if end < 0 else markdown[end + 1 :]
    return markdown[:start] + section + ("\n" + rest if rest else "")


# -- command line ----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m bench.latency [--quick] [--write]`, or `python -m bench.latency serve PORT`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["serve"]:
        _serve(int(args[1]))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke-test sizes")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    options = parser.parse_args(args)
    from consumer.devkit import local_broker

    with tempfile.TemporaryDirectory(prefix="signal-relay-latency-") as logs, local_broker() as b:
        plan = QUICK_PLAN if options.quick else FULL_PLAN
        result = asyncio.run(measure_latency(b.bootstrap_servers, Path(logs), plan))
    section = render_latency(result)
    print(section)
    if options.write:
        path = _HERE / "RESULTS.md"
        path.write_text(replace_section(path.read_text() if path.exists() else "", section))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
