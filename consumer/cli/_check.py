"""`signal-relay check`: a preflight of the environment's configuration (docs/PROTOCOL.md §11)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from consumer.cli._arguments import add_command, positive_float
from consumer.cli._exits import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError
from consumer.cli._kafka import quiet_kafka_client, refuse_unusable_options
from consumer.cli._loop import run_async

__all__ = ["add_check"]


def add_check(sub: Any) -> None:
    """Add the `check` command."""
    check = add_command(
        sub,
        "check",
        _check,
        help="check the configuration, Kafka, the topics and the signal server",
        description="Validate the relay's configuration (every problem), show the isolation "
        "level in effect (KAFKA_ISOLATION_LEVEL) and the compression codecs this process "
        "can decompress (all four, or FAIL), reach the brokers "
        "with the SASL/TLS settings, check that the topic and its DLQ exist (never creating "
        "them) and the group's lag, and connect to the signal server (TLS and client "
        "certificate; an OPTIONS request, no signal is sent). One line per check, 'ok' or "
        "'FAIL'; exit 0 when all pass, 1 when one fails, 2 for a configuration error.",
        examples="  signal-relay check\n  signal-relay check --timeout 3\n",
    )
    check.add_argument(
        "--timeout",
        type=positive_float,
        default=10.0,
        metavar="SECONDS",
        help="bound of each check (default 10)",
    )


def _check(args: argparse.Namespace) -> int:
    from consumer.adapters._kafka_options import kafka_client_options  # noqa: PLC0415
    from consumer.config import ConfigError, load_settings  # noqa: PLC0415 - keep --help fast
    from consumer.tools._preflight import Check, preflight  # noqa: PLC0415

    try:
        settings = load_settings(os.environ)
    except ConfigError as exc:
        for problem in exc.problems:
            print(Check("configuration", False, str(problem)).line())
        return EXIT_USAGE
    timeout: float = args.timeout

    async def main() -> int:
        try:
            await refuse_unusable_options(kafka_client_options(settings.kafka_security))
        except UsageError as exc:
            print(Check("configuration", False, str(exc)).line())
            return EXIT_USAGE
        mode = "dry run" if not settings.enabled else "delivering"
        print(Check("configuration", True, f"valid ({mode}, group {settings.group_id!r})").line())
        quiet_kafka_client()
        checks = await preflight(settings, timeout=timeout)
        for check in checks:
            print(check.line(), flush=True)
        return EXIT_OK if all(check.ok for check in checks) else EXIT_FAILURE

    return run_async(main())
