"""The demo's live progress on its output: one updating line on a terminal, else a line a second."""

from __future__ import annotations

import time
from collections import deque
from typing import TextIO

from consumer.devkit._demo_report import RelayCounters
from consumer.service._member import Relay
from signing.receiver.app import ReceiverApp

__all__ = ["ProgressDisplay", "say"]

_LINE_EVERY_SECONDS = 1.0


class ProgressDisplay:
    """The live progress: one updating line on a terminal, a line per second otherwise."""

    def __init__(self, out: TextIO, started: float) -> None:
        self._out = out
        self._tty = out.isatty()
        self._started = started
        self._last_line = started
        self._window: deque[tuple[float, int]] = deque([(started, 0)])

    def show(
        self, published: int, total: int, app: ReceiverApp, relay: Relay, *, final: bool = False
    ) -> None:
        """Draw the progress now if it is due (always when `final`)."""
        now = time.monotonic()
        if not (final or self._tty or now - self._last_line >= _LINE_EVERY_SECONDS):
            return
        self._last_line = now
        delivered = app.ledger.accepted_count
        self._window.append((now, delivered))
        while len(self._window) > 2 and now - self._window[1][0] >= _LINE_EVERY_SECONDS:
            self._window.popleft()
        since, before = (self._started, 0) if final else self._window[0]
        rate = (delivered - before) / max(now - since, 1e-6)
        counters = RelayCounters.read(relay.metrics.registry)
        line = (
            f"[{now - self._started:6.1f}s] published {published}/{total}  "
            f"delivered {delivered}  retried {counters.retries}  "
            f"dead-lettered {counters.dead_lettered_total}  "
            f"{rate:6.1f}/s{' average' if final else ''}"
        )
        if self._tty:
            self._out.write("\r\x1b[K" + line + ("\n" if final else ""))
        else:
            self._out.write(line + "\n")
        self._out.flush()


def say(out: TextIO, text: str) -> None:
    """Write one line of the demo's narration and flush it."""
    out.write(text + "\n")
    out.flush()
