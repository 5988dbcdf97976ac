"""The systemic-failure gate: 401/403/404/405 pause every delivery until a probe gets through.

Such a status says the relay is misconfigured (secret, URL, permission), not that a record is
bad, so nothing is dead-lettered and nothing is committed. While the gate is closed, waiting
deliveries are let through one at a time, every `probe_interval` seconds: that attempt is the
probe. Any answer proving the server accepts our requests again (2xx, 409, a terminal 4xx)
reopens the gate for everyone.

Answers are judged by when their request was *sent*, so that requests already in flight when
the state changed cannot flap it: each change (trip or clear) starts a new generation, and a
request takes a `ticket()` (the generation it was sent in) just before it is sent. A success
clears the gate only if its request was sent after the trip (an in-flight 201 from before the
401 proves nothing about the server's answer now); a systemic answer trips it only if its
request was sent after the last clear (the server has since accepted a later request).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

__all__ = ["SystemicGate"]

_log = logging.getLogger("signal_relay.systemic")


class SystemicGate:
    """Open while deliveries may flow; closed by a systemic failure until a probe succeeds."""

    def __init__(
        self,
        probe_interval: float,
        on_change: Callable[[bool, str], None] | None = None,
    ) -> None:
        self._probe_interval = probe_interval
        self._on_change = on_change
        self._open = asyncio.Event()
        self._open.set()
        self._probe_turn = asyncio.Lock()
        self._generation = 0
        self._tripped_in = 0
        self._cleared_in = 0
        self.reason = ""
        self.since: float | None = None

    @property
    def is_open(self) -> bool:
        """True unless a systemic failure is in force."""
        return self._open.is_set()

    def ticket(self) -> int:
        """The gate's generation now; take it just before sending, pass it to `trip`/`clear`."""
        return self._generation

    async def passage(self) -> None:
        """Return when this caller may attempt: at once when open, else on its probe turn."""
        if self._open.is_set():
            return
        async with self._probe_turn:
            if self._open.is_set():
                return
            try:
                await asyncio.wait_for(self._open.wait(), self._probe_interval)
            except TimeoutError:
                _log.info("systemic_probe", extra={"fields": {"reason": self.reason}})

    def trip(self, reason: str, sent_in: int | None = None) -> None:
        """Close the gate (idempotent); the first trip raises the alert.

        `sent_in` is the request's `ticket()`: an answer to a request sent before the last
        clear is stale and leaves the gate open. None means "sent now".
        """
        if not self._open.is_set():
            return
        if sent_in is not None and sent_in < self._cleared_in:
            _log.info("systemic_answer_stale", extra={"fields": {"reason": reason}})
            return
        self._generation += 1
        self._tripped_in = self._generation
        self._open.clear()
        self.reason = reason
        self.since = time.monotonic()
        _log.error(
            "systemic_failure",
            extra={"fields": {"reason": reason, "alert": True, "action": "deliveries paused"}},
        )
        if self._on_change is not None:
            self._on_change(False, reason)

    def clear(self, sent_in: int | None = None) -> None:
        """Reopen the gate after the server accepted a request sent after the trip.

        `sent_in` is the request's `ticket()`: a success of a request sent before the trip
        leaves the gate closed. None means "sent now".
        """
        if self._open.is_set():
            return
        if sent_in is not None and sent_in < self._tripped_in:
            return
        duration = time.monotonic() - (self.since or time.monotonic())
        self._generation += 1
        self._cleared_in = self._generation
        self._open.set()
        _log.warning(
            "systemic_failure_cleared",
            extra={"fields": {"reason": self.reason, "duration_s": round(duration, 3)}},
        )
        if self._on_change is not None:
            self._on_change(True, self.reason)
        self.reason = ""
        self.since = None
