"""`signal-relay`: parser and dispatch (docs/PROTOCOL.md §11); one module per command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from consumer import __version__
from consumer.cli._arguments import Command, Parser
from consumer.cli._check import add_check
from consumer.cli._demo import add_demo
from consumer.cli._dlq import add_dlq
from consumer.cli._exits import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CommandFailedError,
    UsageError,
)
from consumer.cli._extras import MissingExtraError, extra_providing, require_extra
from consumer.cli._publish import add_publish
from consumer.cli._receiver import add_receiver
from consumer.cli._run import add_run
from consumer.cli._schema import add_schema
from consumer.cli._verify import add_verify

__all__ = ["main"]

_COMMANDS = (
    add_run,
    add_check,
    add_publish,
    add_demo,
    add_receiver,
    add_verify,
    add_schema,
    add_dlq,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `signal-relay` console script; returns the exit status."""
    from consumer.config import ConfigError  # noqa: PLC0415

    args = _parser().parse_args(argv)
    handler: Command = args.handler
    command: str = args.command
    extra: str | None = args.extra
    try:
        if extra is not None:
            require_extra(command, extra)
        return handler(args)
    except MissingExtraError as exc:
        return _one_line(str(exc), EXIT_USAGE)
    except ModuleNotFoundError as exc:
        # The fallback for an import the command's declared extra does not cover.
        needed = extra_providing(exc.name, prefer=extra)
        if needed is None:
            raise
        return _one_line(str(MissingExtraError(command, needed)), EXIT_USAGE)
    except ConfigError as exc:
        return _one_line(
            "\n".join(f"signal-relay: {problem}" for problem in exc.problems), EXIT_USAGE
        )
    except UsageError as exc:
        return _one_line(f"signal-relay: {exc}", EXIT_USAGE)
    except CommandFailedError as exc:
        return _one_line(f"signal-relay: {exc}", EXIT_FAILURE)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="signal-relay",
        description="Relay trading signals from Kafka to a signal server, signed with HMAC-SHA256.",
        epilog="Run 'signal-relay COMMAND --help' for a command's options and examples.",
    )
    parser.add_argument("--version", action="version", version=f"signal-relay {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in _COMMANDS:
        add(sub)
    return parser


def _one_line(line: str, status: int) -> int:
    print(line, file=sys.stderr)
    return status
