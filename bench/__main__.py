"""`python -m bench` (`make bench`): measure the relay against its targets; print each figure
and write them to bench/RESULTS.md.

1. the record pipeline (prepare + sign) on one core, records/s (bench/pipeline.py);
2. relay throughput at 20 ms server latency with 200 keys against the naive one-at-a-time loop
   (bench/throughput.py);
3. the relay's CPU per delivered signal against a plain aiohttp POST to the same minimal
   server, interleaved repeats (bench/cpu_per_signal.py);
4. publish-to-arrival p50/p99, the relay at a high rate against the naive loop at a low one
   (bench/latency.py);
5. signals posted twice after a SIGKILL and after a SIGTERM (bench/crash.py).

Everything runs on loopback: a local broker (`consumer.devkit.local_broker`), the reference
receiver and the minimal answerer, each child in a process of its own. `--quick` runs every
step tiny (tests/test_bench_smoke.py) and writes a file only when given `--output`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from bench.children import running_answerer, running_receiver
from bench.cpu_per_signal import measure_cpu_per_signal
from bench.crash import measure_resends
from bench.latency import measure_latency
from bench.pipeline import measure_pipeline
from bench.records import SECRET
from bench.throughput import LATENCY_MS, measure_throughput
from consumer.config import load_settings
from consumer.devkit import local_broker

_RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
_HISTORY = "## History"


@dataclass(frozen=True, slots=True)
class Sizes:
    """How much each step does; rates are (signals per second, signals)."""

    pipeline_records: int
    pipeline_rounds: int
    backlog: int
    naive_seconds: float
    throughput_repeats: int
    cpu_backlog: int
    cpu_requests: int
    cpu_repeats: int
    relay_rate: tuple[float, int]
    naive_rate: tuple[float, int]
    crash_backlog: int
    stuck_others: int
    session_ms: int


FULL = Sizes(
    pipeline_records=20_000,
    pipeline_rounds=15,
    backlog=20_000,
    naive_seconds=8.0,
    throughput_repeats=2,
    cpu_backlog=10_000,
    cpu_requests=5_000,
    cpu_repeats=5,
    relay_rate=(2_000.0, 20_000),
    naive_rate=(20.0, 400),
    crash_backlog=20_000,
    stuck_others=1_000,
    session_ms=10_000,  # the relay's default
)
QUICK = Sizes(
    pipeline_records=2_000,
    pipeline_rounds=3,
    backlog=1_000,
    naive_seconds=2.0,
    throughput_repeats=1,
    cpu_backlog=1_000,
    cpu_requests=300,
    cpu_repeats=1,
    relay_rate=(200.0, 100),
    naive_rate=(20.0, 10),
    crash_backlog=1_000,
    stuck_others=50,
    session_ms=3_000,  # a successor joins sooner; what was posted twice does not change
)


def main(argv: list[str] | None = None) -> int:
    """Run every step; 0 when all ran (targets met or not), 1 when one failed."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="every step tiny (about a minute)")
    parser.add_argument("--output", type=Path, help="results file (default: bench/RESULTS.md)")
    args = parser.parse_args(argv)
    output = args.output or (None if args.quick else _RESULTS)
    # SIGTERM unwinds like Ctrl-C, so that the broker and the children are stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    logs = Path(tempfile.mkdtemp(prefix="signal-relay-bench-"))
    try:
        figures = asyncio.run(_measure(QUICK if args.quick else FULL, logs))
    except Exception as exc:
        print(f"bench: failed: {type(exc).__name__}: {exc} (logs in {logs})", file=sys.stderr)
        return 1
    shutil.rmtree(logs, ignore_errors=True)
    if output is not None:
        day = datetime.now(UTC).date().isoformat() + (" (quick)" if args.quick else "")
        previous = output.read_text() if output.exists() else ""
        output.write_text(render(figures, day, _machine(), previous))
        print(f"bench: wrote {output}")
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


async def _measure(sizes: Sizes, logs: Path) -> list[tuple[str, str]]:
    figures: list[tuple[str, str]] = []

    def figure(what: str, value: str) -> None:
        figures.append((what, value))
        print(f"{what}: {value}", flush=True)

    started = time.monotonic()

    def step(what: str) -> None:
        print(f"bench: {what} (at {time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)

    settings = load_settings(
        {"PRODUCER_ID": "bench", "HMAC_PRODUCER_SECRET": SECRET, "OUTBOUND_SERVER_URL": "http://x"}
    )
    fetch = (settings.fetch_max_wait_ms, settings.fetch_min_bytes)
    step("pipeline")
    rate = measure_pipeline(sizes.pipeline_records, sizes.pipeline_rounds)
    figure("pipeline: prepare + sign, one core (target >= 100,000/s)", f"{rate:,.0f} records/s")
    with local_broker() as broker:
        bootstrap = broker.bootstrap_servers
        async with (
            running_receiver(logs / "receiver.log") as receiver,
            running_answerer(logs / "answerer.log") as answerer,
        ):
            step(f"throughput at {LATENCY_MS:g} ms: relay and naive loop")
            relay, naive = await measure_throughput(
                bootstrap,
                receiver,
                logs,
                backlog=sizes.backlog,
                naive_seconds=sizes.naive_seconds,
                repeats=sizes.throughput_repeats,
                fetch=fetch,
            )
            at = f"at {LATENCY_MS:g} ms server latency, 200 keys"
            figure(f"relay throughput {at}", f"{relay:,.0f} signals/s")
            figure(f"naive loop throughput {at}", f"{naive:,.0f} signals/s")
            figure("relay / naive throughput (target >= 40x)", f"{relay / naive:.1f}x")
            step("CPU per signal: relay and plain aiohttp, interleaved")
            relay_us, floor_us = await measure_cpu_per_signal(
                bootstrap,
                answerer,
                logs,
                backlog=sizes.cpu_backlog,
                requests=sizes.cpu_requests,
                repeats=sizes.cpu_repeats,
                concurrency=settings.max_in_flight,
            )
            figure(
                f"CPU per signal: relay / plain aiohttp POST, {settings.max_in_flight} in flight, "
                "same server (target <= 1.5x)",
                f"{relay_us:.0f} us / {floor_us:.0f} us = {relay_us / floor_us:.2f}x",
            )
            step("latency: paced live traffic")
            relay_lat, naive_lat = await measure_latency(
                bootstrap,
                answerer,
                logs,
                relay_rate=sizes.relay_rate,
                naive_rate=sizes.naive_rate,
                fetch=fetch,
            )
            for name, run in (("relay", relay_lat), ("naive loop", naive_lat)):
                arrived = (
                    ""
                    if run.arrived == run.published
                    else f" ({run.arrived:,} of {run.published:,} arrived)"
                )
                figure(
                    f"latency p50 / p99: {name} at {run.rate:,.0f}/s",
                    f"{run.p50 * 1e3:.1f} ms / {run.p99 * 1e3:.1f} ms{arrived}",
                )
            figure(
                f"latency: relay p99 at {relay_lat.rate:,.0f}/s / naive p99 at "
                f"{naive_lat.rate:,.0f}/s (target <= 2x)",
                f"{relay_lat.p99 / naive_lat.p99:.2f}x",
            )
            step("re-sends after SIGKILL and SIGTERM (commit metadata kept)")
            resends = await measure_resends(
                receiver,
                logs,
                backlog=sizes.crash_backlog,
                others=sizes.stuck_others,
                in_flight=settings.max_in_flight,
                commit_interval=settings.commit_interval_seconds,
                session_ms=sizes.session_ms,
            )
            figure(
                f"SIGKILL mid-backlog ({sizes.crash_backlog:,}): posted twice "
                "(target <= in flight + one commit interval), lost",
                f"{resends.killed_twice:,} (bound {resends.killed_bound:,}), "
                f"{resends.killed_lost} lost",
            )
            figure(
                f"SIGTERM, one key stuck, {sizes.stuck_others:,} delivered above it: "
                "posted twice (target <= 1), lost",
                f"{resends.stopped_twice:,}, {resends.stopped_lost} lost",
            )
    step("done")
    return figures


def render(figures: list[tuple[str, str]], day: str, machine: str, previous: str) -> str:
    """RESULTS.md: this run's table; the `## History` section of `previous` kept as it is."""
    lines = [
        "# signal-relay benchmark results",
        "",
        "Written by `make bench` (`python -m bench`). How each figure is measured: the "
        "docstrings of bench/*.py and README.md, Performance.",
        "",
        "## Results",
        "",
        "| figure | value | date | machine |",
        "|---|---|---|---|",
        *(f"| {what} | {value} | {day} | {machine} |" for what, value in figures),
        "",
    ]
    history = previous.find(_HISTORY)
    if history >= 0:
        lines += ["", previous[history:].rstrip("\n"), ""]
    return "\n".join(lines)


def _machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                line.split(":", 1)[1].strip() for line in info if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    try:
        loop = f"uvloop {version('uvloop')}"
    except PackageNotFoundError:
        loop = "asyncio"
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{cpu}, {len(os.sched_getaffinity(0))} cores, {python}, {loop}"


if __name__ == "__main__":
    raise SystemExit(main())
