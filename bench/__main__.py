"""`python -m bench` (`make bench`): measure the relay; write bench/RESULTS.md and a chart.

Steps: the CPU pipeline on one core; the HTTP client's own CPU per request (aiohttp against
httpx); then, with a local broker and the reference receiver in processes of their own, the
relay against the naive baseline and the aiohttp ceiling at 0 ms and 20 ms receiver latency; a
sweep of RELAY_MAX_IN_FLIGHT and of the HTTP transport; peak memory through an outage with a
large backlog; duplicates after a SIGKILL and after a SIGTERM with one key stuck, on the
broker as it is and with commit metadata kept (`consumer/devkit/_metadata_keeper.py`);
publish-to-arrival latency of paced live traffic, relay against naive loop
(bench/latency.py). Last, the CPU per signed request of the relay's sender and of
`HmacClient` (`client_cost.py`). `--quick` runs every step at smoke-test sizes.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from bench.backlog import load_backlog
from bench.client_cost import measure_client_cost, render_client_cost, with_client_cost
from bench.cpu_per_signal import CpuPerSignal, cpu_per_signal_or_failure, render_cpu_section
from bench.crash import measure_crash, measure_kept, measure_stuck_stop
from bench.end_to_end import (
    CeilingRun,
    NaiveRun,
    RelayRun,
    Stage,
    measure_ceiling,
    measure_naive,
    measure_relay,
)
from bench.http_clients import measure_http_clients
from bench.latency import FULL_PLAN, QUICK_PLAN, LatencyResult, measure_latency, render_latency
from bench.machine import cpu_snapshot, describe_machine, load_average
from bench.memory import measure_memory
from bench.pipeline import measure_pipeline, profile_pipeline
from bench.processes import free_port
from bench.receiver import running_receiver
from bench.records import SECRET
from bench.report import Results, Sizes, render_markdown, write_chart
from consumer.config import Settings, load_settings
from consumer.devkit import local_broker

LATENCIES_MS = (0.0, 20.0)
FULL = Sizes(
    pipeline_records=20_000,
    backlog=20_000,
    naive_backlog=20_000,
    naive_seconds=8.0,
    live_rate=1_000.0,
    live_seconds=4.0,
    sweep_backlog=10_000,
    sweep_in_flight=(16, 32, 64, 128, 256),
    transport_backlog=3_000,
    memory_backlog=200_000,
    down_seconds=15.0,
    crash_backlog=20_000,
    repeats=2,
    http_requests=5_000,
)
QUICK = Sizes(
    pipeline_records=3_000,
    backlog=3_000,
    naive_backlog=10_000,
    naive_seconds=3.0,
    live_rate=200.0,
    live_seconds=2.0,
    sweep_backlog=0,
    sweep_in_flight=(),
    transport_backlog=0,
    memory_backlog=20_000,
    down_seconds=3.0,
    crash_backlog=3_000,
    repeats=1,
    http_requests=1_000,
)
_PIPELINE_ROUNDS = 15
_STUCK_OTHERS = 1_000  # the scenario: 1,000 delivered above one stuck key
_HTTP_CLIENT_CONCURRENCY = 64
_PROFILE_RECORDS = 5_000
_HERE = Path(__file__).resolve().parent


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 when every step ran (targets met or not), 1 when a step failed."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke-test sizes (about 1 min)")
    parser.add_argument(
        "--output",
        type=Path,
        default=_HERE,
        help="directory for RESULTS.md and throughput.png (default: bench/)",
    )
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so that the broker and the children are stopped.
    signal.signal(signal.SIGTERM, _terminate)
    logs = Path(tempfile.mkdtemp(prefix="signal-relay-bench-"))
    try:
        results, latency = asyncio.run(_measure(QUICK if args.quick else FULL, args.quick, logs))
        sizes = QUICK if args.quick else FULL
        costs = asyncio.run(measure_client_cost(logs, sizes.http_requests))
    except Exception as exc:
        print(f"bench: failed: {type(exc).__name__}: {exc} (child logs in {logs})", file=sys.stderr)
        return 1
    shutil.rmtree(logs, ignore_errors=True)
    cpu = cpu_per_signal_or_failure(quick=args.quick)
    results = replace(results, latency=latency, cpu=cpu if isinstance(cpu, CpuPerSignal) else None)
    markdown = with_client_cost(
        render_markdown(results).rstrip("\n") + "\n\n" + render_latency(latency),
        render_client_cost(costs),
    )
    markdown += "\n" + render_cpu_section(cpu)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "RESULTS.md").write_text(markdown)
    write_chart(results, args.output / "throughput.png")
    print(markdown)
    print(f"wrote {args.output / 'RESULTS.md'} and {args.output / 'throughput.png'}")
    return 0


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _defaults() -> Settings:
    """The relay's settings with nothing but the required variables set."""
    return load_settings(
        {"PRODUCER_ID": "bench", "HMAC_PRODUCER_SECRET": SECRET, "OUTBOUND_SERVER_URL": "http://x"}
    )


def _step(loads: list[float], what: str) -> None:
    loads.append(load_average()[0])
    print(f"bench: {what} (load {loads[-1]:.2f})", file=sys.stderr, flush=True)


async def _measure(sizes: Sizes, quick: bool, logs: Path) -> tuple[Results, LatencyResult]:
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.monotonic()
    cpu_before = cpu_snapshot()
    defaults = _defaults()
    loads: list[float] = []
    _step(loads, "pipeline")
    pipeline = measure_pipeline(sizes.pipeline_records, _PIPELINE_ROUNDS)
    profile = profile_pipeline(min(sizes.pipeline_records, _PROFILE_RECORDS))
    _step(loads, "HTTP clients: CPU per request")
    http_clients = await measure_http_clients(
        logs, sizes.http_requests, _HTTP_CLIENT_CONCURRENCY, free_port()
    )
    with local_broker() as broker:
        bootstrap = broker.bootstrap_servers
        async with running_receiver(logs / "receiver.log") as receiver:
            stage = Stage(bootstrap, receiver, logs)
            relay, naive, ceiling = await _compare(stage, sizes, defaults, loads)
            sweep = await _sweep(stage, sizes, defaults, loads)
            _step(loads, f"memory: {sizes.memory_backlog:,} backlog through an outage")
            memory = await measure_memory(
                stage, await load_backlog(bootstrap, sizes.memory_backlog), sizes.down_seconds
            )
            _step(loads, "crash: SIGKILL mid-backlog")
            crash = await measure_crash(stage, await load_backlog(bootstrap, sizes.crash_backlog))
            _step(loads, "stop: SIGTERM with one key stuck")
            stuck_stop = await measure_stuck_stop(stage, _STUCK_OTHERS)
            _step(loads, "crash and stop again, commit metadata kept")
            kept = await measure_kept(stage, sizes.crash_backlog, _STUCK_OTHERS)
        _step(loads, "latency: paced live traffic, relay and naive loop")
        latency = await measure_latency(bootstrap, logs, QUICK_PLAN if quick else FULL_PLAN)
    _step(loads, "done")
    others_cpu = cpu_snapshot().others_since(cpu_before)
    results = Results(
        machine=describe_machine(),
        started=started_at,
        seconds=time.monotonic() - started,
        quick=quick,
        sizes=sizes,
        loads=tuple(loads),
        others_cpu=others_cpu,
        broker=f"{broker.kind} (consumer.devkit._local_broker)",
        default_in_flight=defaults.max_in_flight,
        default_transport=defaults.http_transport,
        pipeline=pipeline,
        pipeline_profile=profile,
        http_clients=http_clients,
        relay=relay,
        naive=naive,
        ceiling=ceiling,
        sweep=sweep,
        memory=memory,
        crash=crash,
        stuck_stop=stuck_stop,
        kept=kept,
    )
    return results, latency


async def _compare(
    stage: Stage, sizes: Sizes, defaults: Settings, loads: list[float]
) -> tuple[tuple[RelayRun, ...], tuple[NaiveRun, ...], tuple[CeilingRun, ...]]:
    """Relay, naive baseline and ceiling at each latency; repeats interleave the latencies."""
    relay: list[RelayRun] = []
    naive: list[NaiveRun] = []
    ceiling: list[CeilingRun] = []
    for ms in [ms for _ in range(sizes.repeats) for ms in LATENCIES_MS]:
        _step(loads, f"relay at {ms:g} ms")
        backlog = await load_backlog(stage.bootstrap, sizes.backlog)
        relay.append(
            await measure_relay(
                stage, backlog, ms, live_rate=sizes.live_rate, live_seconds=sizes.live_seconds
            )
        )
        _step(loads, f"naive baseline at {ms:g} ms")
        backlog = await load_backlog(stage.bootstrap, sizes.naive_backlog)
        naive.append(await measure_naive(stage, backlog, ms, sizes.naive_seconds))
        _step(loads, f"aiohttp ceiling at {ms:g} ms")
        ceiling.append(await measure_ceiling(stage, ms, sizes.backlog, defaults.max_in_flight))
    return tuple(relay), tuple(naive), tuple(ceiling)


async def _sweep(
    stage: Stage, sizes: Sizes, defaults: Settings, loads: list[float]
) -> tuple[RelayRun, ...]:
    """The relay at other in-flight limits, with the other HTTP transport, without uvloop."""
    if not sizes.sweep_backlog:
        return ()
    runs = []
    other = "httpx" if defaults.http_transport == "aiohttp" else "aiohttp"
    for ms in LATENCIES_MS:
        for limit in sizes.sweep_in_flight:
            if limit == defaults.max_in_flight:
                continue
            _step(loads, f"sweep: RELAY_MAX_IN_FLIGHT={limit} at {ms:g} ms")
            backlog = await load_backlog(stage.bootstrap, sizes.sweep_backlog)
            runs.append(await measure_relay(stage, backlog, ms, max_in_flight=limit))
        _step(loads, f"sweep: OUTBOUND_HTTP_TRANSPORT={other} at {ms:g} ms")
        backlog = await load_backlog(stage.bootstrap, sizes.transport_backlog)
        runs.append(await measure_relay(stage, backlog, ms, transport=other))
        _step(loads, f"sweep: plain asyncio event loop at {ms:g} ms")
        backlog = await load_backlog(stage.bootstrap, sizes.sweep_backlog)
        runs.append(await measure_relay(stage, backlog, ms, plain_asyncio=True))
    return tuple(runs)


if __name__ == "__main__":
    raise SystemExit(main())
