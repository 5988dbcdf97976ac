"""How many requests may be in flight at once: `InFlightSlots`, first come, first served.

`asyncio.Semaphore` on Python 3.11 scans its whole queue of waiters on every `acquire`
(`locked()` asks whether any waiter is not cancelled), and a relay keeps one waiter per key
beyond `RELAY_MAX_IN_FLIGHT`: with 200 active keys and 128 slots, every request paid for a walk
over 72 futures. Here a released slot is handed straight to the oldest waiter, and taking a
free slot looks at nothing else.
"""

from __future__ import annotations

import asyncio
from collections import deque
from types import TracebackType

__all__ = ["InFlightSlots"]


class InFlightSlots:
    """At most `limit` holders at once (`async with slots:`); waiters are served in order."""

    __slots__ = ("_free", "_waiters")

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._free = limit
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def free(self) -> int:
        """Slots nobody holds or has been handed."""
        return self._free

    async def __aenter__(self) -> None:
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return
        handed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(handed)
        try:
            await handed  # resolved by a holder leaving: its slot is now ours
        except asyncio.CancelledError:
            if handed.done() and not handed.cancelled():
                self._release()  # handed a slot, then cancelled before taking it: pass it on
            raise

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._release()

    def _release(self) -> None:
        waiters = self._waiters
        while waiters:
            handed = waiters.popleft()
            if not handed.done():  # a cancelled waiter's future is done: skip it
                handed.set_result(None)
                return
        self._free += 1
