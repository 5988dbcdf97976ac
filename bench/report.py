"""The results as Markdown tables (`bench/RESULTS.md`, also printed) and a throughput chart."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from bench.cpu_per_signal import FLOOR, TRANSPORTS, CpuPerSignal
from bench.cpu_per_signal import TARGET_RATIO as CPU_TARGET
from bench.crash import CrashRun, KeptRuns, StuckStopRun
from bench.end_to_end import CeilingRun, NaiveRun, RelayRun
from bench.http_clients import VARIANTS, ClientCost
from bench.latency import TARGET_RATIO as LATENCY_TARGET
from bench.latency import LatencyResult
from bench.machine import Machine
from bench.memory import RETRY_MAX_SECONDS, MemoryRun
from bench.pipeline import PipelineResult
from bench.records import INSTRUMENTS

__all__ = ["Results", "Sizes", "render_markdown", "write_chart"]

PIPELINE_TARGET = 100_000
SPEEDUP_TARGET = 40
RATE_TARGET = 3_000
CEILING_SHARE_TARGET = 0.5
RSS_TARGET_MB = 150


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big each measurement is (`--quick` shrinks them).

    Attributes:
        pipeline_records: records per pipeline round.
        backlog: signals pre-loaded for each relay run (and the ceiling's POST count).
        naive_backlog: signals pre-loaded for the naive baseline (more than it can deliver).
        naive_seconds: how long the naive baseline runs.
        live_rate: signals per second published in the live phase.
        live_seconds: how long the live phase publishes.
        sweep_backlog: signals per run of the in-flight and transport sweep (0: no sweep).
        sweep_in_flight: the `RELAY_MAX_IN_FLIGHT` values swept.
        transport_backlog: signals per run with the other HTTP transport (a slow one).
        memory_backlog: signals waiting while the receiver is down.
        down_seconds: how long the receiver is down.
        crash_backlog: signals in the crash run.
        repeats: runs of each relay / naive / ceiling comparison; the best one counts.
        http_requests: POSTs per HTTP client variant.
    """

    pipeline_records: int
    backlog: int
    naive_backlog: int
    naive_seconds: float
    live_rate: float
    live_seconds: float
    sweep_backlog: int
    sweep_in_flight: tuple[int, ...]
    transport_backlog: int
    memory_backlog: int
    down_seconds: float
    crash_backlog: int
    repeats: int
    http_requests: int


@dataclass(frozen=True, slots=True)
class Results:
    """Everything one `python -m bench` run measured.

    Attributes:
        machine: where it ran.
        started: UTC start time, ISO 8601.
        seconds: wall time of the whole run.
        quick: whether this was a `--quick` smoke run.
        sizes: the sizes used.
        loads: the 1-minute load average sampled before each step (and at the end).
        others_cpu: CPU seconds used during the run by everything outside the benchmark's
            process tree (other users' work, the kernel).
        broker: what the local broker was.
        default_in_flight: the relay's `RELAY_MAX_IN_FLIGHT` default.
        default_transport: the relay's `OUTBOUND_HTTP_TRANSPORT` default.
        pipeline: parse + canonical + sign on one core.
        pipeline_profile: cProfile top functions of one pipeline pass.
        http_clients: each HTTP client variant's CPU per request.
        relay: the relay at each latency, default settings (every repeat).
        naive: the naive baseline at each latency (every repeat).
        ceiling: the aiohttp ceiling at each latency (every repeat).
        sweep: the relay at other in-flight limits and transports.
        memory: the outage run.
        crash: the SIGKILL run.
        stuck_stop: the SIGTERM run with one key stuck on 503.
        kept: both runs again with the commit metadata kept (as a Kafka broker does).
        latency: publish-to-arrival of paced live traffic, relay against naive loop.
        cpu: CPU per delivered signal against plain aiohttp's per POST.
    """

    machine: Machine
    started: str
    seconds: float
    quick: bool
    sizes: Sizes
    loads: tuple[float, ...]
    others_cpu: float
    broker: str
    default_in_flight: int
    default_transport: str
    pipeline: PipelineResult
    pipeline_profile: str
    http_clients: tuple[ClientCost, ...]
    relay: tuple[RelayRun, ...]
    naive: tuple[NaiveRun, ...]
    ceiling: tuple[CeilingRun, ...]
    sweep: tuple[RelayRun, ...]
    memory: MemoryRun
    crash: CrashRun
    stuck_stop: StuckStopRun | None = None
    kept: KeptRuns | None = None
    latency: LatencyResult | None = None
    cpu: CpuPerSignal | None = None


def render_markdown(results: Results) -> str:
    """The whole results file."""
    sections = [
        _header(results),
        _targets(results),
        _bounds(results),
        _throughput(results),
        _latency(results),
        _sweep(results),
        _http_clients(results),
        _memory(results),
        _crash(results),
        _pipeline(results),
        _machine(results),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def write_chart(results: Results, path: Path) -> None:
    """Bar chart of relay, naive and ceiling throughput per latency (+ the in-flight sweep)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    latencies = _latencies(results)
    best = [_relay_at(results, ms) for ms in latencies]
    sweep_runs = [
        run for run in (*best, *results.sweep) if run.transport is None and not run.plain_asyncio
    ]
    if not results.sweep:
        sweep_runs = []
    figure, axes = plt.subplots(1, 2 if sweep_runs else 1, figsize=(12, 4.8), squeeze=False)
    bars = axes[0][0]
    series = (
        ("relay", [run.rate for run in best], "#1f77b4"),
        ("naive baseline", [_naive_at(results, ms).rate for ms in latencies], "#d62728"),
        ("aiohttp ceiling", [_ceiling_at(results, ms).rate for ms in latencies], "#7f7f7f"),
    )
    width = 0.26
    for index, (label, values, color) in enumerate(series):
        positions = [n + (index - 1) * width for n in range(len(latencies))]
        drawn = bars.bar(positions, values, width, label=label, color=color)
        bars.bar_label(drawn, labels=[f"{v:,.0f}" for v in values], fontsize=8)
    bars.set_xticks(range(len(latencies)), [f"receiver latency {ms:g} ms" for ms in latencies])
    bars.set_ylabel("signals / s (first to last 201)")
    bars.set_title(f"Throughput, RELAY_MAX_IN_FLIGHT={results.default_in_flight}")
    bars.legend()
    if sweep_runs:
        lines = axes[0][1]
        for ms in latencies:
            runs = sorted(
                (r for r in sweep_runs if r.latency_ms == ms), key=lambda r: _in_flight(results, r)
            )
            lines.plot(
                [_in_flight(results, r) for r in runs],
                [r.rate for r in runs],
                marker="o",
                label=f"{ms:g} ms",
            )
        limits = sorted({_in_flight(results, r) for r in sweep_runs})
        lines.set_xscale("log", base=2)
        lines.set_xticks(limits, [str(n) for n in limits])
        lines.set_ylim(bottom=0)
        lines.set_xlabel("RELAY_MAX_IN_FLIGHT")
        lines.set_ylabel("relay signals / s")
        lines.set_title("Relay throughput by in-flight limit")
        lines.legend(title="receiver latency")
    figure.suptitle(f"signal-relay on {results.machine.cpu}, {results.machine.cores} cores")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


# -- sections -------------------------------------------------------------------------------


def _header(r: Results) -> str:
    kind = "`--quick` smoke run: sizes too small for conclusions" if r.quick else "full run"
    loads = ", ".join(f"{x:.2f}" for x in r.loads)
    return (
        "# signal-relay benchmark results\n\n"
        f"Generated by `make bench` (`python -m bench`) on {r.started}, {kind}, "
        f"in {r.seconds:.0f} s. Machine: {r.machine.cpu}, {r.machine.cores} cores, "
        f"{r.machine.python}, {r.machine.event_loop}; broker: {r.broker} on loopback. "
        f"1-minute load average before each step: {loads}. Everything outside the "
        f"benchmark's own processes used {_others(r)} meanwhile.\n\n"
        "Each process has its own interpreter: the reference receiver (`signal-relay receiver`, "
        "uvicorn with uvloop and httptools), the relay (`signal-relay run`), the naive "
        "baseline and the aiohttp ceiling; on 2 cores the receiver, the broker and the "
        "client under test share them. Throughput is counted at the receiver (first to last "
        f"201). Backlogs: {r.sizes.backlog:,} signals over 6 partitions and 200 keys "
        "(instruments), pre-loaded before the relay starts."
    )


def _targets(r: Results) -> str:
    rows = [
        (
            "pipeline (parse + validate + canonical + sign), one core",
            f">= {PIPELINE_TARGET:,}/s",
            f"{r.pipeline.records_per_second:,.0f}/s",
            r.pipeline.records_per_second >= PIPELINE_TARGET,
        )
    ]
    for run in map(partial(_relay_at, r), _latencies(r)):
        naive, ceiling = _naive_at(r, run.latency_ms), _ceiling_at(r, run.latency_ms)
        if run.latency_ms > 0:
            speedup = run.rate / naive.rate
            rows.append(
                (
                    f"{run.latency_ms:g} ms: relay vs naive baseline",
                    f">= {SPEEDUP_TARGET}x",
                    f"{speedup:.1f}x",
                    speedup >= SPEEDUP_TARGET,
                )
            )
        else:
            share = run.rate / ceiling.rate
            rows.append(
                (
                    "0 ms: relay throughput",
                    f">= {RATE_TARGET:,}/s",
                    f"{run.rate:,.0f}/s",
                    run.rate >= RATE_TARGET,
                )
            )
            rows.append(
                (
                    "0 ms: relay vs aiohttp ceiling",
                    f">= {CEILING_SHARE_TARGET:.0%}",
                    f"{share:.0%}",
                    share >= CEILING_SHARE_TARGET,
                )
            )
    m = r.memory
    rows.append(
        (
            f"peak RSS, {m.backlog:,} backlog, receiver down then up",
            f"<= {RSS_TARGET_MB} MB",
            f"{m.peak_rss_mb:.0f} MB",
            m.peak_rss_mb <= RSS_TARGET_MB,
        )
    )
    rows.append(
        (
            "outage recovery: every signal delivered",
            f"{m.backlog:,}",
            f"{m.delivered:,}",
            m.delivered == m.backlog,
        )
    )
    rows.append(
        ("SIGKILL mid-backlog: nothing lost", "0 lost", f"{r.crash.lost} lost", r.crash.lost == 0)
    )
    c, stuck = (r.kept.crash, r.kept.stuck_stop) if r.kept else (r.crash, r.stuck_stop)
    rows.append(
        (
            "SIGKILL at full speed: posted twice",
            f"<= {c.bound:,} (in flight + one commit interval)",
            f"{c.duplicated:,}",
            c.duplicated <= c.bound,
        )
    )
    if stuck is not None:
        rows.append(
            (
                "SIGTERM, one key stuck: posted twice",
                f"<= {stuck.bound} (in flight)",
                f"{stuck.duplicated:,} of {stuck.finished:,} finished",
                stuck.duplicated <= stuck.bound,
            )
        )
    rows += _latency_and_cpu_targets(r)
    body = [
        f"| {what} | {target} | {got} | {'yes' if ok else '**no**'} |"
        for what, target, got, ok in rows
    ]
    return "\n".join(
        ["## Targets", "", "| what | target | measured | met |", "|---|---|---|---|", *body]
    )


def _latency_and_cpu_targets(r: Results) -> list[tuple[str, str, str, bool]]:
    rows = []
    if r.latency is not None:
        plan, ratio = r.latency.plan, r.latency.ratio
        relay, naive = r.latency.run("relay", plan.high_rate), r.latency.run("naive", plan.low_rate)
        rows.append(
            (
                f"latency: relay p99 at {plan.high_rate:,.0f}/s vs naive p99 at "
                f"{plan.low_rate:g}/s",
                f"<= {LATENCY_TARGET:g}x",
                f"{relay.p99 * 1000:.1f} ms vs {naive.p99 * 1000:.1f} ms: {ratio:.2f}x",
                ratio <= LATENCY_TARGET,
            )
        )
    if r.cpu is not None:
        for transport in TRANSPORTS:
            ratio = r.cpu.ratio(transport)
            rows.append(
                (
                    f"CPU per signal, relay on {transport} vs plain aiohttp POST",
                    f"<= {CPU_TARGET:g}x",
                    f"{r.cpu.relay[transport]:.0f} us vs {r.cpu.clients[FLOOR]:.0f} us: "
                    f"{ratio:.2f}x",
                    ratio <= CPU_TARGET,
                )
            )
    return rows


def _bounds(r: Results) -> str:
    """What caps the relay at the highest latency, from this run's own numbers."""
    ms = _latencies(r)[-1]
    run, naive = _relay_at(r, ms), _naive_at(r, ms)
    attempt = naive.p50  # one signed POST at this latency, fetch to 201, nothing queued
    keys = INSTRUMENTS
    caps = [
        (
            f"RELAY_MAX_IN_FLIGHT={r.default_in_flight} requests of ~{_ms(attempt)} each",
            r.default_in_flight / attempt,
        ),
        (f"one request at a time per key: {keys} keys", keys / attempt),
        (f"one core at {run.cpu_us:.0f} us of relay CPU per signal", 1e6 / run.cpu_us),
    ]
    rows = [f"| {what} | {cap:,.0f}/s | {cap / naive.rate:.1f}x |" for what, cap in caps]
    return "\n".join(
        [
            f"## What bounds one relay process at {ms:g} ms",
            "",
            f"The naive baseline does 6 requests at a time (one per partition): "
            f"{naive.rate:,.0f}/s, so {SPEEDUP_TARGET}x is {SPEEDUP_TARGET * naive.rate:,.0f}/s. "
            "One relay process cannot exceed any of these; the lowest binds "
            f"({min(caps, key=lambda cap: cap[1])[0]}; the second core runs the receiver "
            "and the broker):",
            "",
            "| bound | signals/s | x naive |",
            "|---|---|---|",
            *rows,
            "",
            "Beyond one core, the consumer group spreads partitions over processes: up to 6 "
            "relay processes for this topic, each adding its core's worth.",
        ]
    )


def _throughput(r: Results) -> str:
    lines = [
        "## Throughput (signals/s)",
        "",
        f"Relay: one `signal-relay run` process, defaults (RELAY_MAX_IN_FLIGHT="
        f"{r.default_in_flight}, OUTBOUND_HTTP_TRANSPORT={r.default_transport}). Naive: per "
        "partition one record at a time (fetch, sign, `httpx.AsyncClient` POST, await, "
        "commit), 6 partitions. Ceiling: the same number of signed POSTs from plain aiohttp "
        f"with {r.default_in_flight} in flight, no Kafka.",
        "",
        "| receiver latency | relay | naive | ceiling | relay / naive | relay / ceiling "
        "| relay CPU per signal | relay peak RSS |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for ms in _latencies(r):
        run, naive, ceiling = _relay_at(r, ms), _naive_at(r, ms), _ceiling_at(r, ms)
        lines.append(
            f"| {ms:g} ms | {run.rate:,.0f} | {naive.rate:,.0f} | "
            f"{ceiling.rate:,.0f} | {run.rate / naive.rate:.1f}x | "
            f"{run.rate / ceiling.rate:.0%} | {run.cpu_us:.0f} us | {run.peak_rss_mb:.0f} MB |"
        )
    if r.sizes.repeats > 1:
        lines += [
            "",
            f"Best of {r.sizes.repeats} runs each (a shared VM's speed drifts by 20-30 % "
            "between runs); every run, in order:",
            "",
            "| receiver latency | relay runs | naive runs | ceiling runs |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {ms:g} ms | {_rates(r.relay, ms)} | {_rates(r.naive, ms)} "
            f"| {_rates(r.ceiling, ms)} |"
            for ms in _latencies(r)
        ]
    return "\n".join(lines)


def _latency(r: Results) -> str:
    lines = [
        "## Latency (p50 / p99)",
        "",
        "Relay, backlog: fetch to 201 from the relay's `signal_relay_consume_to_delivered_"
        "seconds` histogram (interpolated in its buckets), while draining the backlog: it "
        "includes the wait in the relay's partition buffers (up to RELAY_PARTITION_BUFFER "
        "records per partition), i.e. queueing, not processing. Relay, live: the same "
        f"histogram for {r.sizes.live_rate:,.0f} signals/s published for "
        f"{r.sizes.live_seconds:g} s to the caught-up relay. Naive: fetch to 201, measured "
        "exactly (its queue is the topic itself, not counted). Ceiling: one request.",
        "",
        "| receiver latency | relay, backlog | relay, live | relay HTTP attempt p50 "
        "| naive | ceiling request |",
        "|---|---|---|---|---|---|",
    ]
    for ms in _latencies(r):
        run, naive, ceiling = _relay_at(r, ms), _naive_at(r, ms), _ceiling_at(r, ms)
        lines.append(
            f"| {ms:g} ms | {_ms(run.p50)} / {_ms(run.p99)} | "
            f"{_ms(run.live_p50)} / {_ms(run.live_p99)} | {_ms(run.request_p50)} | "
            f"{_ms(naive.p50)} / {_ms(naive.p99)} | {_ms(ceiling.p50)} / {_ms(ceiling.p99)} |"
        )
    return "\n".join(lines)


def _sweep(r: Results) -> str:
    if not r.sweep:
        return ""
    runs = sorted(
        (*map(partial(_relay_at, r), _latencies(r)), *r.sweep),
        key=lambda run: (
            run.transport or "",
            run.plain_asyncio,
            run.latency_ms,
            _in_flight(r, run),
        ),
    )
    lines = [
        "## Relay settings sweep",
        "",
        f"Each row is a fresh relay process draining {r.sizes.sweep_backlog:,} signals "
        f"(the default-settings rows: {r.sizes.backlog:,}; the other transport: "
        f"{r.sizes.transport_backlog:,}).",
        "",
        "| event loop | transport | RELAY_MAX_IN_FLIGHT | receiver latency | signals/s "
        "| CPU per signal | HTTP attempt p50 | peak RSS |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        loop = "asyncio" if run.plain_asyncio else r.machine.event_loop
        lines.append(
            f"| {loop} | {run.transport or r.default_transport} | {_in_flight(r, run)} | "
            f"{run.latency_ms:g} ms | {run.rate:,.0f} | {run.cpu_us:.0f} us | "
            f"{_ms(run.request_p50)} | {run.peak_rss_mb:.0f} MB |"
        )
    return "\n".join(lines)


def _http_clients(r: Results) -> str:
    if not r.http_clients:
        return ""
    base = next((c for c in r.http_clients if c.variant == "aiohttp"), r.http_clients[0])
    lines = [
        "## HTTP client: CPU per request",
        "",
        f"{r.sizes.http_requests:,} POSTs per client, {base.concurrency} in flight, to a "
        "minimal HTTP/1.1 server in a process of its own that answers 201 at once; CPU is "
        "the client process's own (`bench/http_clients.py`). One relay process is bound by "
        "CPU per signal, so this decides its transport.",
        "",
        "| client | requests/s | client CPU per request | x aiohttp |",
        "|---|---|---|---|",
    ]
    for cost in r.http_clients:
        lines.append(
            f"| {VARIANTS.get(cost.variant, cost.variant)} | "
            f"{cost.requests_per_second:,.0f} | {cost.cpu_us:.0f} us | "
            f"{cost.cpu_us / base.cpu_us:.1f}x |"
        )
    return "\n".join(lines)


def _memory(r: Results) -> str:
    m = r.memory
    return "\n".join(
        [
            "## Memory: backlog during an outage",
            "",
            f"{m.backlog:,} signals waiting; the receiver answers 503 to everything for "
            f"{m.down_seconds:g} s (the relay got {m.refused:,} 503s and kept retrying, "
            f"RELAY_RETRY_MAX_SECONDS={RETRY_MAX_SECONDS:g}), then heals.",
            "",
            "| RSS after join | peak while down | peak overall | after draining "
            "| delivered | drain time after healing | drain rate |",
            "|---|---|---|---|---|---|---|",
            f"| {m.start_rss_mb:.0f} MB | {m.peak_down_rss_mb:.0f} MB | {m.peak_rss_mb:.0f} MB "
            f"| {m.end_rss_mb:.0f} MB | {m.delivered:,} / {m.backlog:,} "
            f"| {m.drain_seconds:.1f} s | {m.rate:,.0f}/s |",
        ]
    )


def _crash(r: Results) -> str:
    c = r.crash
    return "\n".join(
        [
            "## Duplicates after SIGKILL",
            "",
            f"The relay is killed (SIGKILL) once {c.accepted_at_kill:,} of {c.total:,} "
            "signals are accepted, at full speed; a new relay process in the same group "
            "finishes the backlog. Posted twice = signals whose validly signed requests the "
            "receiver counted more than once (each re-send carries the same idempotency key, "
            "so the server answers it as a replay).",
            "",
            "| signals | posted twice | bound | extra posts | share | lost "
            "| kill to first new 201 |",
            "|---|---|---|---|---|---|---|",
            f"| {c.total:,} | {c.duplicated:,} | {c.bound:,} | {c.extra_posts:,} | "
            f"{c.duplicated / c.total:.1%} | {c.lost} | {c.recovery_seconds:.1f} s |",
            "",
            f"Bound: `RELAY_MAX_IN_FLIGHT` plus one commit interval at {c.rate:,.0f} signals/s. "
            "Finished offsets above the committed one travel in the commit's metadata and are "
            "skipped by the successor; a broker that drops commit metadata (the bundled Tansu "
            "does) leaves only the contiguous commit.",
            *_stuck_stop(r.stuck_stop),
            *_kept(r.kept),
        ]
    )


def _kept(k: KeptRuns | None) -> list[str]:
    if k is None:
        return []
    c, s = k.crash, k.stuck_stop
    return [
        "",
        "The same two runs on a broker that keeps commit metadata, as Kafka does (Tansu "
        "behind `consumer/devkit/_metadata_keeper.py`, which filled "
        f"{k.filled:,} OffsetFetch answers):",
        "",
        "| run | posted twice | bound | skipped as finished | lost |",
        "|---|---|---|---|---|",
        f"| SIGKILL, {c.total:,} signals at {c.rate:,.0f}/s | {c.duplicated:,} | {c.bound:,} "
        f"| - | {c.lost} |",
        f"| SIGTERM, one key stuck, {s.finished:,} finished | {s.duplicated:,} | {s.bound} "
        f"| {s.skipped:,} | {s.lost} |",
    ]


def _stuck_stop(s: StuckStopRun | None) -> list[str]:
    if s is None:
        return []
    return [
        "",
        f"SIGTERM with one key stuck on 503 at offset 0 and {s.finished:,} records above it "
        f"delivered, then a restart: {s.duplicated:,} posted twice (bound: {s.bound}, the "
        f"stuck record), {s.skipped:,} skipped as finished, {s.lost} lost.",
    ]


def _pipeline(r: Results) -> str:
    p = r.pipeline
    rounds = ", ".join(f"{x:,.0f}" for x in p.rounds)
    return "\n".join(
        [
            "## Pipeline: parse + canonical body + signed headers, one core",
            "",
            f"{p.records:,} realistic records per round; best round {p.records_per_second:,.0f}"
            f" records/s (rounds: {rounds}), i.e. {1e6 / p.records_per_second:.1f} us per "
            f"record: parse and validate {p.parse_us:.1f} us, canonical body "
            f"{p.canonical_us:.1f} us, timestamp and signed headers {p.sign_us:.1f} us "
            f"(stages timed apart). The {PIPELINE_TARGET:,}/s target allows "
            f"{1e6 / PIPELINE_TARGET:.0f} us. Where one pass spends its time (cProfile, own "
            "time, which inflates small calls):",
            "",
            "```",
            _profile_excerpt(r.pipeline_profile),
            "```",
        ]
    )


def _machine(r: Results) -> str:
    m = r.machine
    versions = "\n".join(f"| {name} | {v} |" for name, v in m.versions.items())
    return "\n".join(
        [
            "## Machine",
            "",
            "| | |",
            "|---|---|",
            f"| CPU | {m.cpu} |",
            f"| cores | {m.cores} |",
            f"| memory | {m.memory_gb:.1f} GiB |",
            f"| system | {m.system} |",
            f"| Python | {m.python} |",
            f"| event loop | {m.event_loop} |",
            f"| broker | {r.broker} |",
            f"| load average (1 min) during the run | {_load_range(r.loads)} |",
            f"| CPU used by anything else during the run | {_others(r)} |",
            versions,
        ]
    )


# -- helpers --------------------------------------------------------------------------------


def _latencies(r: Results) -> list[float]:
    return sorted({run.latency_ms for run in r.relay})


def _relay_at(r: Results, latency_ms: float) -> RelayRun:
    return max((run for run in r.relay if run.latency_ms == latency_ms), key=lambda x: x.rate)


def _naive_at(r: Results, latency_ms: float) -> NaiveRun:
    return max((run for run in r.naive if run.latency_ms == latency_ms), key=lambda x: x.rate)


def _ceiling_at(r: Results, latency_ms: float) -> CeilingRun:
    return max((run for run in r.ceiling if run.latency_ms == latency_ms), key=lambda x: x.rate)


def _rates(runs: Sequence[RelayRun | NaiveRun | CeilingRun], latency_ms: float) -> str:
    return " / ".join(f"{run.rate:,.0f}" for run in runs if run.latency_ms == latency_ms)


def _in_flight(r: Results, run: RelayRun) -> int:
    return run.max_in_flight if run.max_in_flight is not None else r.default_in_flight


def _ms(seconds: float) -> str:
    if math.isnan(seconds):
        return "-"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    return f"{seconds * 1000:.1f} ms"


def _others(r: Results) -> str:
    share = r.others_cpu / (r.seconds * r.machine.cores)
    return f"{r.others_cpu:.0f} CPU-seconds ({share:.1%} of the machine)"


def _load_range(loads: Sequence[float]) -> str:
    return f"{min(loads):.2f} to {max(loads):.2f}"


def _profile_excerpt(profile: str) -> str:
    lines = profile.strip().splitlines()
    start = next((n for n, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    return "\n".join(lines[start:])
