"""`signal-relay run`: the relay service, configured by the environment."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from consumer.cli._arguments import add_command
from consumer.cli._exits import EXIT_OK, UsageError, address_in_use, caused_by, fail
from consumer.cli._kafka import refuse_unusable_options
from consumer.cli._loop import run_async

if TYPE_CHECKING:
    from consumer.config import Settings

__all__ = ["add_run"]


def add_run(sub: Any) -> None:
    """Add the `run` command."""
    parser = add_command(
        sub,
        "run",
        _run,
        help="run the relay service (configured by environment, see README)",
        description="Consume, validate, sign and deliver signals; configuration from the "
        "environment (KAFKA_*, HMAC_PRODUCER_*, PRODUCER_ID, OUTBOUND_*, RELAY_*, LOG_*). "
        "A bad setting, a missing topic or DLQ, or a metrics port in use stops start-up with "
        "exit status 2 and one line naming the cause; the relay never creates topics.",
        examples="  PRODUCER_ID=desk-1 HMAC_PRODUCER_SECRET_FILE=/run/secrets/hmac \\\n"
        "  OUTBOUND_SERVER_URL=https://signals.example.com signal-relay run\n"
        "  signal-relay run --workers auto    # one group member per core\n",
    )
    parser.add_argument(
        "--workers",
        metavar="N|auto",
        help="run N group members as child processes under one supervisor ('auto': one per "
        "core); it forwards SIGTERM/SIGINT, restarts a crashed worker, and serves every "
        "worker's metrics on RELAY_METRICS_PORT (worker i on RELAY_METRICS_PORT+1+i)",
    )


def _run(args: argparse.Namespace) -> int:
    from aiokafka.errors import KafkaError  # noqa: PLC0415

    from consumer.adapters._kafka_options import kafka_client_options  # noqa: PLC0415
    from consumer.adapters._topic_check import MissingTopicError  # noqa: PLC0415
    from consumer.cli._lifeline import hold  # noqa: PLC0415
    from consumer.config import load_settings  # noqa: PLC0415 - keep --help fast
    from consumer.ops._log_redaction import secrets_in  # noqa: PLC0415
    from consumer.ops._logs import configure_logging  # noqa: PLC0415
    from consumer.ops._tracing import configure_tracing  # noqa: PLC0415
    from consumer.service._collector import tune_collector  # noqa: PLC0415
    from consumer.service._member import Relay, RelayError, run_until_signalled  # noqa: PLC0415

    settings = load_settings(os.environ)
    configure_logging(settings.log_level, settings.log_format, secrets=secrets_in(settings))
    if args.workers is not None:
        return _supervise(args.workers, settings)
    configure_tracing(settings.tracing)
    tune_collector()  # the process's collector: see consumer/service/_collector.py

    async def main() -> int:
        await refuse_unusable_options(kafka_client_options(settings.kafka_security))
        relay = Relay(settings)
        hold(os.environ, relay.request_stop)  # a `--workers` child: stop if the supervisor dies
        await run_until_signalled(relay)
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


def _supervise(workers: str, settings: Settings) -> int:
    """`--workers`: the settings are valid (checked above); the workers check the rest."""
    from consumer.cli._worker_metrics import WorkerMetrics  # noqa: PLC0415
    from consumer.cli._workers import Supervisor, parse_workers  # noqa: PLC0415
    from consumer.ops._endpoint import OpsServer  # noqa: PLC0415

    try:
        count = parse_workers(workers)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    supervisor = Supervisor(count, os.environ, shutdown_grace=settings.shutdown_grace_seconds)
    port = settings.metrics_port

    async def main() -> int:
        ops = None
        if port:
            ports = [port + 1 + i for i in range(count)]
            metrics = WorkerMetrics(settings.metrics_host, ports)
            ops = OpsServer(render_metrics=metrics.render, readiness=supervisor.readiness)
            await ops.start(settings.metrics_host, port)
        try:
            return await supervisor.run()
        finally:
            if ops is not None:
                await ops.stop()

    try:
        return run_async(main())
    except OSError as exc:
        if address_in_use(exc):
            raise UsageError(
                f"cannot serve metrics on {settings.metrics_host}:{port}: address already in use"
            ) from None
        raise
