"""The parser's shared parts: one-line usage errors, help layout, option types, common options."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any, NoReturn

from consumer.cli._exits import EXIT_USAGE

__all__ = [
    "Command",
    "Parser",
    "add_bootstrap",
    "add_command",
    "non_negative_float",
    "positive_float",
    "positive_int",
    "timestamp",
]

Command = Callable[[argparse.Namespace], int]


class Parser(argparse.ArgumentParser):
    """argparse with usage errors as one line (`signal-relay: ...`) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see --help)\n")


class _HelpFormatter(argparse.HelpFormatter):
    """Descriptions are wrapped; texts with line breaks (the examples) are kept as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" not in text:
            return super()._fill_text(text, width, indent)
        return "".join(indent + line for line in text.splitlines(keepends=True))


def add_command(
    sub: Any,
    name: str,
    handler: Command,
    *,
    help: str,
    description: str,
    examples: str,
    extra: str | None = None,
) -> argparse.ArgumentParser:
    """Add command `name` run by `handler`; `extra` names the extra it needs beyond the base."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help,
        description=description,
        epilog="examples:\n" + examples,
        formatter_class=_HelpFormatter,
    )
    command = parser.prog.removeprefix("signal-relay ")
    parser.set_defaults(handler=handler, command=command, extra=extra)
    return parser


def add_bootstrap(parser: argparse.ArgumentParser) -> None:
    """The `--bootstrap` option of the commands that talk to Kafka."""
    parser.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        help="Kafka bootstrap servers (default: KAFKA_BOOTSTRAP_SERVERS, else localhost:9092)",
    )


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be above 0")
    return value


def timestamp(text: str) -> datetime:
    """An RFC 3339 instant, parsed by the signing library's own rules."""
    from signing.errors import MalformedTimestampError  # noqa: PLC0415
    from signing.timestamps import parse_timestamp  # noqa: PLC0415

    try:
        return parse_timestamp(text)
    except MalformedTimestampError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
