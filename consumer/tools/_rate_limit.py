"""A token bucket: how long to wait so that events stay under a rate (DLQ replay, the demo)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

__all__ = ["TokenBucket"]


class TokenBucket:
    """At most `rate` events per second on average, in bursts of at most `burst`.

    `reserve()` takes a token now and says how long to wait before using it; a caller that
    waits as told never exceeds the rate. Reservations queue up: tokens may go negative, so
    the n-th back-to-back reservation waits `n / rate` seconds minus what the burst covers.
    """

    __slots__ = ("_burst", "_clock", "_rate", "_tokens", "_updated")

    def __init__(
        self, rate: float, *, burst: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"rate must be a positive number of events per second, got {rate!r}")
        if not (math.isfinite(burst) and burst >= 1):
            raise ValueError(f"burst must be at least 1, got {burst!r}")
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._tokens = burst
        self._updated = clock()

    def reserve(self) -> float:
        """Take one token; return the seconds to wait before the event may happen (>= 0)."""
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self._rate

    async def acquire(self) -> None:
        """Wait until one more event is allowed."""
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)
