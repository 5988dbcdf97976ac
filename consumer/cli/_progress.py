"""How a long command shows progress: a rich bar on a terminal, plain lines otherwise.

The bar (done/total, rate, ETA) needs the `tools` extra (`rich`) and a terminal on stdout.
Without either, a plain line is printed at most once a second and once at the end, so a log
file or a pipe gets a readable trace instead of control characters.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from importlib.util import find_spec
from typing import Protocol, TextIO

__all__ = ["PlainProgress", "Progress", "progress"]


class Progress(Protocol):
    """Counts units of work done out of a known total."""

    def advance(self) -> None:
        """One more unit is done."""
        ...

    def close(self) -> None:
        """The work ended (done or not): show the final state."""
        ...


def progress(total: int, verb: str, *, stream: TextIO | None = None) -> Progress:
    """A rich bar when `stream` (stdout) is a terminal and rich is installed, else plain lines."""
    out = stream or sys.stdout
    if out.isatty() and find_spec("rich") is not None:
        return _RichProgress(total, verb, out)
    return PlainProgress(total, verb, out)


class PlainProgress:
    """`<verb> 40/120 (33%), 12.5/s, ETA 6s` at most every `every` seconds, and at the end."""

    def __init__(
        self,
        total: int,
        verb: str,
        stream: TextIO,
        *,
        every: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._total, self._verb, self._stream = total, verb, stream
        self._every, self._clock = every, clock
        self._started = self._last = clock()
        self._done = 0
        self._printed = -1

    def advance(self) -> None:
        """Count one; print a line if the last one is `every` seconds old."""
        self._done += 1
        if self._clock() - self._last >= self._every:
            self._print()

    def close(self) -> None:
        """Print the final line unless it is already the last one printed."""
        if self._printed != self._done:
            self._print()

    def _print(self) -> None:
        now = self._clock()
        self._last, self._printed = now, self._done
        elapsed = max(now - self._started, 1e-9)
        rate = self._done / elapsed
        share = 100 * self._done // self._total if self._total else 100
        eta = f"{(self._total - self._done) / rate:.0f}s" if rate > 0 else "-"
        line = f"{self._verb} {self._done}/{self._total} ({share}%), {rate:.1f}/s, ETA {eta}"
        print(line, file=self._stream, flush=True)


class _RichProgress:
    def __init__(self, total: int, verb: str, stream: TextIO) -> None:
        from rich.console import Console  # noqa: PLC0415 - only on a terminal
        from rich.progress import (  # noqa: PLC0415
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar  # noqa: PLC0415

        self._started = time.monotonic()
        self._bar = Bar(
            TextColumn(verb),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(file=stream),
        )
        self._task = self._bar.add_task(verb, total=total, rate="-/s")
        self._done = 0
        self._bar.start()

    def advance(self) -> None:
        self._done += 1
        rate = self._done / max(time.monotonic() - self._started, 1e-9)
        self._bar.update(self._task, advance=1, rate=f"{rate:.1f}/s")

    def close(self) -> None:
        self._bar.stop()
