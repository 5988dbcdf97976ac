"""CPU per delivered signal against plain aiohttp's CPU per signal-sized POST, in one run.

The target (issue 11): the relay's CPU per delivered signal at most 1.5x what plain aiohttp
spends on one signal-sized POST on the same machine, in the same run. Measured here:

- the floor: `bench.http_clients` children (plain aiohttp `ClientSession.post`, and pyreqwest's
  `Client` beside it) POSTing to a minimal loopback HTTP/1.1 server in a process of its own,
  each child's own CPU (all threads) per request;
- the relay: one `signal-relay run` process per transport draining a backlog of N records to
  the same kind of minimal server, the relay's process CPU time (all threads) from the first
  201 the server counts to the last, divided by the signals answered in between (start-up is
  not a per-signal cost). Same server, same answer: the ratio is the relay's own overhead.
- the relay again (default transport) draining to the reference receiver (uvicorn, which
  verifies every signature): a realistic peer, answering slower, so fewer answers arrive per
  wake-up of the relay's event loop and each costs it more; reported beside the target.

Floor and relay runs interleave, `repeats` times; the lowest of each is quoted (the machine is
shared, and other load only ever adds). `python -m bench.cpu_per_signal [--quick]` runs this
step alone and prints its section; `make bench` appends the section to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import aiohttp
import psutil

from bench.backlog import Backlog, load_backlog
from bench.end_to_end import Stage
from bench.http_clients import answered_posts, answering_server, measure_http_clients
from bench.machine import load_average
from bench.processes import BenchError, free_port
from bench.receiver import running_receiver
from bench.relay import relay_env, running_relay
from consumer.config import Settings
from consumer.devkit import local_broker

__all__ = [
    "FLOOR",
    "TARGET_RATIO",
    "TRANSPORTS",
    "CpuPerSignal",
    "append_cpu_per_signal",
    "cpu_per_signal_or_failure",
    "measure_cpu_per_signal",
    "render_cpu_per_signal",
    "render_cpu_section",
]

TARGET_RATIO = 1.5
"""The relay's CPU per signal over the floor's CPU per POST, at most."""
FLOOR = "aiohttp"
"""The `bench.http_clients` variant the target is measured against."""
TRANSPORTS = ("aiohttp", "pyreqwest")
"""The relay's `OUTBOUND_HTTP_TRANSPORT`s measured."""
_CLIENTS = (FLOOR, "pyreqwest", "relay-aiohttp", "relay-pyreqwest")
# The clients keep as many POSTs in flight as the relay does by default: more in flight means
# more answers per wake-up of the event loop, cheaper each.
_CONCURRENCY: int = Settings.model_fields["max_in_flight"].default
_POLL_SECONDS = 0.02
_DRAIN_SECONDS = 300.0
# (records per relay drain, POSTs per client run, repeats)
_QUICK = (2_000, 1_000, 1)
_FULL = (10_000, 5_000, 5)


@dataclass(frozen=True, slots=True)
class CpuPerSignal:
    """One run's figures, microseconds of CPU per signal, lowest of the repeats.

    Attributes:
        clients: `bench.http_clients` variant -> CPU per request (the floor is `FLOOR`).
        relay: transport -> relay CPU per delivered signal, to the minimal server.
        relay_rate: transport -> signals per second of that drain.
        to_receiver: relay CPU per signal on the default transport, to the reference receiver.
        to_receiver_rate: signals per second of that drain.
        samples: every figure measured, by name, in run order.
        backlog: records per relay drain.
        requests: POSTs per client run.
        loads: the 1-minute load average before each step.
        repeats: how many times each figure was measured.
    """

    clients: dict[str, float]
    relay: dict[str, float]
    relay_rate: dict[str, float]
    to_receiver: float
    to_receiver_rate: float
    samples: dict[str, tuple[float, ...]]
    backlog: int
    requests: int
    loads: tuple[float, ...]
    repeats: int

    def ratio(self, transport: str) -> float:
        """The relay's CPU per signal on `transport` over the aiohttp floor."""
        return self.relay[transport] / self.clients[FLOOR]


async def measure_cpu_per_signal(
    logs: Path, *, backlog: int, requests: int, repeats: int
) -> CpuPerSignal:
    """Floor and relay, interleaved `repeats` times, on one local broker and receiver."""
    samples: dict[str, list[float]] = {}
    rates: dict[str, list[float]] = {}
    loads: list[float] = []
    with local_broker() as broker:
        async with (
            running_receiver(logs / "cpu-receiver.log") as receiver,
            answering_server(logs) as server,
            aiohttp.ClientSession() as session,
        ):
            stage = Stage(broker.bootstrap_servers, receiver, logs)
            await receiver.set_faults(latency_ms=0)
            minimal = _Peer(
                f"{server}/api/v1/signals/ingest", partial(answered_posts, session, server)
            )
            for _ in range(repeats):
                loads.append(load_average()[0])
                costs = await measure_http_clients(
                    logs, requests, _CONCURRENCY, free_port(), _CLIENTS
                )
                for cost in costs:
                    samples.setdefault(cost.variant, []).append(cost.cpu_us)
                for transport in TRANSPORTS:
                    loads.append(load_average()[0])
                    records = await load_backlog(stage.bootstrap, backlog)
                    cpu_us, rate = await _drain_cpu(stage, records, transport, minimal)
                    samples.setdefault(f"relay/{transport}", []).append(cpu_us)
                    rates.setdefault(transport, []).append(rate)
                loads.append(load_average()[0])
                await receiver.clear()
                records = await load_backlog(stage.bootstrap, backlog)
                peer = _Peer(receiver.url, receiver.accepted)
                cpu_us, rate = await _drain_cpu(stage, records, TRANSPORTS[0], peer)
                samples.setdefault("relay-to-receiver", []).append(cpu_us)
                rates.setdefault("relay-to-receiver", []).append(rate)
    return CpuPerSignal(
        clients={name: min(samples[name]) for name in _CLIENTS},
        relay={t: min(samples[f"relay/{t}"]) for t in TRANSPORTS},
        relay_rate={t: max(rates[t]) for t in TRANSPORTS},
        to_receiver=min(samples["relay-to-receiver"]),
        to_receiver_rate=max(rates["relay-to-receiver"]),
        samples={name: tuple(values) for name, values in samples.items()},
        backlog=backlog,
        requests=requests,
        loads=tuple(loads),
        repeats=repeats,
    )


@dataclass(frozen=True, slots=True)
class _Peer:
    """Where a relay drains to, and how many signals it has answered so far."""

    url: str
    answered: Callable[[], Awaitable[int]]


async def _drain_cpu(
    stage: Stage, backlog: Backlog, transport: str, peer: _Peer
) -> tuple[float, float]:
    """The relay's CPU us per signal while 201s flow, and signals per second, for one drain.

    The relay's CPU and the peer's count are polled together; the window runs from the first
    poll that sees a 201 to the one that sees all of them, so that start-up (imports, joining
    the group, the first fetch) is not spread over the signals.
    """
    group = f"cpu-{uuid.uuid4().hex[:8]}"
    env = relay_env(
        stage.bootstrap,
        backlog.topic,
        peer.url,
        KAFKA_GROUP_ID=group,
        OUTBOUND_HTTP_TRANSPORT=transport,
    )
    before = await peer.answered()
    async with running_relay(env, stage.logs / "cpu-relay.log") as relay:
        process = psutil.Process(relay.pid)
        first: tuple[float, float, int] | None = None
        deadline = time.monotonic() + _DRAIN_SECONDS
        while True:
            count = await peer.answered() - before
            times = process.cpu_times()
            now, cpu = time.monotonic(), times.user + times.system
            if first is None and count > 0:
                first = (now, cpu, count)
            if count >= backlog.count and first is not None:
                break
            if now > deadline:
                raise BenchError(f"{transport}: {count} of {backlog.count} delivered in time")
            await asyncio.sleep(_POLL_SECONDS)
    signals = count - first[2]
    if signals <= 0:
        raise BenchError(f"{transport}: the drain finished within one poll; use a larger one")
    return (cpu - first[1]) / signals * 1e6, signals / (now - first[0])


def render_cpu_per_signal(result: CpuPerSignal) -> str:
    """The RESULTS.md section."""
    floor = result.clients[FLOOR]
    lines = [
        "## CPU per signal against the aiohttp floor",
        "",
        f"One run: each client POSTs {result.requests:,} signal-sized bodies ({_CONCURRENCY} in "
        "flight) to a minimal loopback server in another process; each relay drains "
        f"{result.backlog:,} records to the same kind of server (the same answer to every "
        "POST), counted from the first 201 to the last. CPU is the measured process's user + "
        "system time, all threads; lowest of "
        f"{result.repeats} interleaved repeats. Load average (1 min) before each step: "
        f"{', '.join(f'{load:.2f}' for load in result.loads)} - the machine is shared, so "
        "absolute figures move; the ratios, measured minutes apart, are the result.",
        "",
        "| what | CPU us per signal | x aiohttp floor | samples (us) |",
        "|---|---:|---:|---|",
    ]
    for name in _CLIENTS:
        cost = result.clients[name]
        lines.append(
            f"| client: {name} | {cost:.1f} | {cost / floor:.2f} | {_samples(result, name)} |"
        )
    for transport in TRANSPORTS:
        cost = result.relay[transport]
        verdict = "meets" if result.ratio(transport) <= TARGET_RATIO else "misses"
        lines.append(
            f"| **relay, OUTBOUND_HTTP_TRANSPORT={transport}** "
            f"({result.relay_rate[transport]:,.0f}/s) | {cost:.1f} | "
            f"{result.ratio(transport):.2f} ({verdict} {TARGET_RATIO:g}x) | "
            f"{_samples(result, f'relay/{transport}')} |"
        )
    lines.append(
        f"| relay, {TRANSPORTS[0]}, to the reference receiver ({result.to_receiver_rate:,.0f}/s)"
        f" | {result.to_receiver:.1f} | {result.to_receiver / floor:.2f} | "
        f"{_samples(result, 'relay-to-receiver')} |"
    )
    target_us = TARGET_RATIO * floor
    lines += [
        "",
        "The target compares like with like: relay and plain aiohttp POST to the same minimal "
        "server. Against the reference receiver (uvicorn, verifying every signature on the "
        "other core) the relay's answers arrive fewer at a time, so each wake-up of its event "
        "loop (an epoll call, a read) serves fewer of them: that row is the cost of a "
        "realistic peer, not of the relay's work per signal.",
        "",
        f"The target is {target_us:.0f} us ({TARGET_RATIO:g}x the floor). Of each relay's CPU:",
    ]
    for transport in TRANSPORTS:
        client = result.clients[f"relay-{transport}"]
        rest = result.relay[transport] - client
        lines.append(
            f"- {transport}: its HTTP client alone {client:.0f} us; everything else (Kafka fetch "
            f"and decode, parse/validate/sign, the record flow, metrics, the event loop) "
            f"{rest:.0f} us, so the target leaves that {target_us - client:.0f} us."
        )
    lines += ["", ""]
    return "\n".join(lines)


def _samples(result: CpuPerSignal, name: str) -> str:
    return ", ".join(f"{value:.1f}" for value in result.samples[name])


def cpu_per_signal_or_failure(*, quick: bool) -> CpuPerSignal | Exception:
    """Measure (quick: smoke sizes); a failure is returned, to be reported in its section."""
    try:
        return _run(quick)
    except Exception as exc:
        print(f"bench: CPU per signal failed: {exc!r}", file=sys.stderr)
        return exc


def render_cpu_section(result: CpuPerSignal | Exception) -> str:
    """The RESULTS.md section of a measurement, or of its failure."""
    if isinstance(result, Exception):
        return f"## CPU per signal against the aiohttp floor\n\nfailed: {result!r}\n"
    return render_cpu_per_signal(result)


def append_cpu_per_signal(results_md: Path, *, quick: bool) -> str:
    """Measure (quick: smoke sizes), append the section to `results_md`, return it."""
    section = render_cpu_section(cpu_per_signal_or_failure(quick=quick))
    with results_md.open("a") as out:
        out.write("\n" + section)
    return section


def _run(quick: bool) -> CpuPerSignal:
    backlog, requests, repeats = _QUICK if quick else _FULL
    logs = Path(tempfile.mkdtemp(prefix="signal-relay-cpu-"))
    return asyncio.run(
        measure_cpu_per_signal(logs, backlog=backlog, requests=requests, repeats=repeats)
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run this step alone; print the section (and append it to `--output` when given)."""
    parser = argparse.ArgumentParser(prog="python -m bench.cpu_per_signal")
    parser.add_argument("--quick", action="store_true", help="smoke-test sizes")
    parser.add_argument("--output", type=Path, help="a RESULTS.md to append the section to")
    args = parser.parse_args(argv)
    if args.output is not None:
        print(append_cpu_per_signal(args.output, quick=args.quick))
        return 0
    print(render_cpu_per_signal(_run(args.quick)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
