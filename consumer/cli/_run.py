"""`signal-relay run`: the relay service, configured by the environment."""

from __future__ import annotations

import argparse
import os
from typing import Any

from consumer.cli._arguments import add_command
from consumer.cli._exits import EXIT_OK, UsageError, address_in_use, caused_by, fail
from consumer.cli._kafka import refuse_unusable_options
from consumer.cli._loop import run_async

__all__ = ["add_run"]


def add_run(sub: Any) -> None:
    """Add the `run` command."""
    add_command(
        sub,
        "run",
        _run,
        help="run the relay service (configured by environment, see README)",
        description="Consume, validate, sign and deliver signals; configuration from the "
        "environment (KAFKA_*, HMAC_PRODUCER_*, PRODUCER_ID, OUTBOUND_*, RELAY_*, LOG_*). "
        "A bad setting, a missing topic or DLQ, or a metrics port in use stops start-up with "
        "exit status 2 and one line naming the cause; the relay never creates topics.",
        examples="  PRODUCER_ID=desk-1 HMAC_PRODUCER_SECRET_FILE=/run/secrets/hmac \\\n"
        "  OUTBOUND_SERVER_URL=https://signals.example.com signal-relay run\n",
    )


def _run(args: argparse.Namespace) -> int:
    from aiokafka.errors import KafkaError  # noqa: PLC0415

    from consumer.adapters._kafka_options import kafka_client_options  # noqa: PLC0415
    from consumer.adapters._topic_check import MissingTopicError  # noqa: PLC0415
    from consumer.config import load_settings  # noqa: PLC0415 - keep --help fast
    from consumer.ops._log_redaction import secrets_in  # noqa: PLC0415
    from consumer.ops._logs import configure_logging  # noqa: PLC0415
    from consumer.service._collector import tune_collector  # noqa: PLC0415
    from consumer.service._member import Relay, RelayError, run_until_signalled  # noqa: PLC0415

    settings = load_settings(os.environ)
    configure_logging(settings.log_level, settings.log_format, secrets=secrets_in(settings))
    tune_collector()  # the process's collector: see consumer/service/_collector.py

    async def main() -> int:
        await refuse_unusable_options(kafka_client_options(settings.kafka_security))
        await run_until_signalled(Relay(settings))
        return EXIT_OK

    try:
        return run_async(main())
    except (MissingTopicError, OSError, RelayError) as exc:
        # Matched on the cause too: the relay may translate them into its own start error.
        if missing := caused_by(exc, MissingTopicError):
            raise UsageError(f"cannot start the relay: {missing}") from None
        if address_in_use(exc):
            where = f"{settings.metrics_host}:{settings.metrics_port}"
            raise UsageError(
                f"cannot serve metrics on {where}: address already in use "
                "(RELAY_METRICS_HOST/RELAY_METRICS_PORT; 0 turns the endpoint off)"
            ) from None
        if isinstance(exc, RelayError):
            return fail(str(exc))
        raise
    except KafkaError as exc:  # a start-up step the relay does not translate itself
        return fail(f"cannot start the relay: {exc}")
