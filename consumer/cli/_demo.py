"""`signal-relay demo`: the whole pipeline on this machine (needs the `demo` extra)."""

from __future__ import annotations

import argparse
import math
from typing import Any

from consumer.cli._arguments import add_command, non_negative_float, positive_float, positive_int
from consumer.cli._exits import EXIT_OK, UsageError, fail

__all__ = ["add_demo"]


def add_demo(sub: Any) -> None:
    """Add the `demo` command."""
    demo = add_command(
        sub,
        "demo",
        _demo,
        help="run the whole pipeline locally with a live display",
        description="Start a local broker (or use KAFKA_BOOTSTRAP_SERVERS), the reference "
        "receiver with a little latency and a few injected faults (503s, 429s, dropped "
        "connections, one instrument answered 422), and a relay; publish a realistic stream "
        "with some invalid records; show progress; then check that every valid signal was "
        "delivered and every bad record dead-lettered (exit 0), else exit 1 with the reason. "
        "Needs the 'demo' extra; it creates its own topic and DLQ.",
        examples="  signal-relay demo\n"
        "  signal-relay demo --signals 2000 --rate 500\n"
        "  signal-relay demo --duration 30 --keep-running   # then scrape /metrics\n",
        extra="demo",
    )
    demo.add_argument(
        "--signals", type=positive_int, default=500, metavar="N", help="signals (default: 500)"
    )
    demo.add_argument(
        "--rate",
        type=non_negative_float,
        default=200.0,
        metavar="N",
        help="records published per second; 0 = as fast as possible (default: 200)",
    )
    demo.add_argument(
        "--duration",
        type=positive_float,
        metavar="SECONDS",
        help="publish for about this long at --rate (instead of --signals)",
    )
    demo.add_argument(
        "--timeout",
        type=positive_float,
        default=60.0,
        metavar="SECONDS",
        help="time allowed after the last publish for every outcome (default: 60)",
    )
    demo.add_argument(
        "--keep-running",
        action="store_true",
        help="after the summary, keep serving /metrics until Ctrl-C",
    )
    demo.add_argument("--verbose", action="store_true", help="show the relay's JSON logs")
    demo.add_argument("--seed", type=int, help="seed of the stream and the faults")


def _demo(args: argparse.Namespace) -> int:
    from consumer.devkit._demo import run_demo  # noqa: PLC0415
    from consumer.devkit._demo_options import DemoError, DemoOptions  # noqa: PLC0415

    signals: int = args.signals
    if args.duration is not None:
        if not args.rate:
            raise UsageError("--duration needs a publish --rate above 0")
        signals = max(1, math.ceil(args.rate * args.duration))
    options = DemoOptions(
        signals=signals,
        rate=args.rate,
        timeout=args.timeout,
        keep_running=args.keep_running,
        verbose=args.verbose,
        seed=args.seed,
    )
    try:
        verdict = run_demo(options)
    except DemoError as exc:
        return fail(f"demo failed: {exc}")
    return EXIT_OK if verdict.ok else fail(f"demo failed: {verdict.reason}")
