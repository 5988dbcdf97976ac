"""Exit statuses and the one-line errors that lead to them (the table is in the package doc)."""

from __future__ import annotations

import errno
import sys
from typing import TypeVar

from consumer.errors import SignalRelayError

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CommandFailedError",
    "UsageError",
    "address_in_use",
    "caused_by",
    "fail",
]

_E = TypeVar("_E", bound=BaseException)

EXIT_OK = 0
EXIT_FAILURE = 1
"""The command ran and failed: relay crash, Kafka lost, bad input lines, invalid signature."""
EXIT_USAGE = 2
"""Refused before doing anything: fix the command line, configuration or environment."""
EXIT_INTERRUPTED = 130


class UsageError(SignalRelayError):
    """Bad arguments, configuration or environment, found before any work: one line, exit 2."""


class CommandFailedError(SignalRelayError):
    """The command ran and could not finish (e.g. the broker went away): one line, exit 1."""


def fail(message: str) -> int:
    """Print `signal-relay: message` on stderr; return the failure status."""
    print(f"signal-relay: {message}", file=sys.stderr)
    return EXIT_FAILURE


def address_in_use(exc: BaseException) -> bool:
    """True when `exc`, or an error it was raised from, is "address already in use"."""
    found = caused_by(exc, OSError)
    return found is not None and found.errno == errno.EADDRINUSE


def caused_by(exc: BaseException, kind: type[_E]) -> _E | None:
    """`exc` or the first error in its `raise ... from` chain that is a `kind`; else None."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__
    return None
