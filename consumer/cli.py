"""`signal-relay`: the command line (CONTRACT section 7). Exit codes: 0 ok, 1 failure, 2 usage."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from consumer import __version__

__all__ = ["main"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

Command = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    """Bad arguments or configuration: one line on stderr, exit 2."""


def _run_async(main: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up

        return uvloop.run(main)
    except ImportError:
        return asyncio.run(main)


def _cmd_run(args: argparse.Namespace) -> int:
    from consumer.config import load_settings  # noqa: PLC0415 - keep --help fast
    from consumer.logs import configure_logging  # noqa: PLC0415
    from consumer.relay import Relay, RelayCrashedError, run_until_signalled  # noqa: PLC0415

    settings = load_settings(os.environ)
    configure_logging(settings.log_level, settings.log_format)

    async def main() -> int:
        try:
            await run_until_signalled(Relay(settings))
        except RelayCrashedError:
            return EXIT_FAILURE
        return EXIT_OK

    return _run_async(main())


def _cmd_schema(args: argparse.Namespace) -> int:
    import orjson  # noqa: PLC0415

    from schemas.candidate import candidate_json_schema  # noqa: PLC0415

    sys.stdout.write(orjson.dumps(candidate_json_schema(), option=orjson.OPT_INDENT_2).decode())
    sys.stdout.write("\n")
    return EXIT_OK


def _cmd_receiver(args: argparse.Namespace) -> int:
    from consumer.config import ConfigError  # noqa: PLC0415
    from signing.receiver.config import ReceiverConfig  # noqa: PLC0415
    from signing.receiver.serve import run_receiver  # noqa: PLC0415

    secrets = _receiver_secrets(args.secret_file)
    if not secrets:
        raise ConfigError("HMAC_PRODUCER_SECRET", "is required (or --secret-file)")
    config = ReceiverConfig(secrets=tuple(secrets), ingest_path=args.path)
    run_receiver(config, host=args.host, port=args.port)
    return EXIT_OK


def _receiver_secrets(files: Sequence[str]) -> list[bytes]:
    from pathlib import Path  # noqa: PLC0415

    secrets = [Path(f).read_bytes().strip() for f in files]
    if not secrets and os.environ.get("HMAC_PRODUCER_SECRET"):
        secrets.append(os.environ["HMAC_PRODUCER_SECRET"].encode())
    return secrets


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="signal-relay",
        description="Relay trading signals from Kafka to a signal server, signed with HMAC-SHA256.",
    )
    parser.add_argument("--version", action="version", version=f"signal-relay {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser(
        "run",
        help="run the relay service (configured by environment, see README)",
        description="Consume, validate, sign and deliver signals; configuration from the "
        "environment (KAFKA_*, HMAC_PRODUCER_*, PRODUCER_ID, OUTBOUND_*, RELAY_*, LOG_*).",
    )
    run.set_defaults(handler=_cmd_run)

    schema = sub.add_parser("schema", help="print the JSON Schema of SignalCandidate")
    schema.set_defaults(handler=_cmd_schema)

    receiver = sub.add_parser(
        "receiver",
        help="run the reference ingest receiver",
        description="Serve the reference ingest endpoint, verifying signatures with the secret "
        "in HMAC_PRODUCER_SECRET or the --secret-file files (several = rotation).",
    )
    receiver.add_argument("--host", default="127.0.0.1")
    receiver.add_argument("--port", type=int, default=8080)
    receiver.add_argument("--path", default="/api/v1/signals/ingest", help="ingest path")
    receiver.add_argument(
        "--secret-file", action="append", default=[], help="file holding an active secret"
    )
    receiver.set_defaults(handler=_cmd_receiver)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `signal-relay` console script."""
    from consumer.config import ConfigError  # noqa: PLC0415

    args = _parser().parse_args(argv)
    handler: Command = args.handler
    try:
        return handler(args)
    except (ConfigError, UsageError) as exc:
        print(f"signal-relay: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
