"""`signal-relay receiver`: the reference ingest receiver (needs the `receiver` extra)."""

from __future__ import annotations

import argparse
import socket
from typing import Any

from consumer.cli._arguments import add_command
from consumer.cli._exits import EXIT_OK, UsageError, address_in_use
from consumer.cli._inputs import DEFAULT_INGEST_PATH, secrets

__all__ = ["add_receiver"]


def add_receiver(sub: Any) -> None:
    """Add the `receiver` command."""
    receiver = add_command(
        sub,
        "receiver",
        _receiver,
        help="run the reference ingest receiver",
        description="Serve the reference ingest endpoint, verifying signatures with the secret "
        "in HMAC_PRODUCER_SECRET (or HMAC_PRODUCER_SECRET_FILE) or the --secret-file files "
        "(several = rotation). Needs the 'receiver' extra. A port in use is one line, exit 2.",
        examples="  signal-relay receiver --port 8080 --secret-file ./secret\n"
        "  signal-relay receiver --secret-file ./secret --capture ./captured\n"
        "  HMAC_PRODUCER_SECRET=... signal-relay receiver --host 0.0.0.0\n",
        extra="receiver",
    )
    receiver.add_argument("--host", default="127.0.0.1", help="address to listen on")
    receiver.add_argument("--port", type=int, default=8080, help="port to listen on")
    receiver.add_argument("--path", default=DEFAULT_INGEST_PATH, help="ingest path")
    receiver.add_argument(
        "--secret-file", action="append", default=[], help="file holding an active secret"
    )
    receiver.add_argument(
        "--capture",
        metavar="DIR",
        help="write each request to DIR as NNNNNN.body + NNNNNN.args"
        " (check one: signal-relay verify @DIR/NNNNNN.args --secret-file ...)",
    )


def _receiver(args: argparse.Namespace) -> int:
    from consumer.ops._logs import configure_logging  # noqa: PLC0415
    from signing.receiver.config import ReceiverConfig  # noqa: PLC0415
    from signing.receiver.errors import InvalidReceiverConfigError  # noqa: PLC0415
    from signing.receiver.serve import run_receiver  # noqa: PLC0415

    try:
        config = ReceiverConfig(
            secrets=tuple(secrets(args.secret_file)),
            ingest_path=args.path,
            capture_dir=args.capture,
        )
    except InvalidReceiverConfigError as exc:
        raise UsageError(str(exc)) from exc
    _refuse_port_in_use(args.host, args.port)
    configure_logging("INFO", "json")
    run_receiver(config, host=args.host, port=args.port)
    return EXIT_OK


def _refuse_port_in_use(host: str, port: int) -> None:
    """One line, exit 2, when host:port cannot be bound: the server would log and exit 3."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As the server binds: a port left in TIME_WAIT by a previous run is not "in use".
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if address_in_use(exc):
                raise UsageError(
                    f"receiver: cannot listen on {host}:{port}: address already in use (--port)"
                ) from None
            raise UsageError(f"receiver: cannot listen on {host}:{port}: {exc.strerror}") from None
