"""Which repeated library lines are shown: the first of a run per window, then a count.

During a broker outage aiokafka logs "Unable connect to node with id %s: %s" for every
reconnect attempt of every connection: 405 lines in 17 s. `RepeatLimiter` lets the first line
of a (logger, level, message template) through, counts the repeats within `window` seconds,
and once the window has closed reports them as one `log_lines_suppressed` line (at the next
line of any logger, or when logging shuts down). Only the loggers under `prefixes` are
limited: the relay's own events share a name for every record and are never merged.

Time is the records' own `created` time, so the limiter needs no clock of its own.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

__all__ = ["RepeatLimiter"]

_SUMMARY_LOGGER = "signal_relay.logs"
_MAX_RUNS = 256

_Key = tuple[str, int, str]


@dataclass(slots=True)
class _Run:
    """A line seen in the current window: when it was first let through, how often since."""

    opened_at: float
    suppressed: int = 0


class RepeatLimiter:
    """Lets the first of a repeated line through per `window` seconds and counts the rest."""

    def __init__(self, window: float = 60.0, prefixes: tuple[str, ...] = ("aiokafka",)) -> None:
        self.window = window
        self._prefixes = tuple(p + "." for p in prefixes)
        self._roots = prefixes
        self._runs: dict[_Key, _Run] = {}
        self._next_close = float("inf")
        self._lock = threading.Lock()

    def admit(self, record: logging.LogRecord) -> list[logging.LogRecord]:
        """The records to emit for `record`: summaries of closed windows, then `record` unless
        it repeats a line of an open window."""
        with self._lock:
            emit = self._close_before(record.created - self.window)
            if self._limits(record.name):
                key = (record.name, record.levelno, str(record.msg))
                run = self._runs.get(key)
                if run is not None:
                    run.suppressed += 1
                    return emit
                if len(self._runs) >= _MAX_RUNS:
                    emit += self._close_before(float("inf"))
                self._runs[key] = _Run(record.created)
                self._next_close = min(self._next_close, record.created + self.window)
            emit.append(record)
            return emit

    def flush(self) -> list[logging.LogRecord]:
        """Summaries of every run with suppressed lines, windows open or not (at shutdown)."""
        with self._lock:
            return self._close_before(float("inf"))

    def _limits(self, name: str) -> bool:
        return name in self._roots or name.startswith(self._prefixes)

    def _close_before(self, moment: float) -> list[logging.LogRecord]:
        """Forget the runs opened before `moment`; a summary for each that suppressed lines."""
        if moment < self._next_close - self.window:
            return []
        closed = [key for key, run in self._runs.items() if run.opened_at <= moment]
        summaries = []
        for key in closed:
            run = self._runs.pop(key)
            if run.suppressed:
                summaries.append(self._summary(key, run))
        self._next_close = min(
            (run.opened_at + self.window for run in self._runs.values()), default=float("inf")
        )
        return summaries

    def _summary(self, key: _Key, run: _Run) -> logging.LogRecord:
        name, level, template = key
        return logging.makeLogRecord(
            {
                "name": _SUMMARY_LOGGER,
                "levelno": level,
                "levelname": logging.getLevelName(level),
                "msg": "log_lines_suppressed",
                "fields": {
                    "repeated_logger": name,
                    "repeated_event": template,
                    "suppressed": run.suppressed,
                    "window_s": self.window,
                },
            }
        )
