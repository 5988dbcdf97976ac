"""At most N events a second: aiolimiter's leaky bucket, with a burst of a tenth of a second.

One rule for every pace the relay keeps: the requests to the signal server
(`RELAY_MAX_REQUESTS_PER_SECOND`, every attempt, retry and probe of the process), a DLQ replay's
`--rate` and the demo's publishing rate. The bucket holds `burst` events and drains at `rate` a
second, so over any one-second window at most `rate + burst` events pass, and a long run
averages `rate`.
"""

from __future__ import annotations

import math

from aiolimiter import AsyncLimiter

__all__ = ["rate_limiter"]


def rate_limiter(rate: float, *, burst: float | None = None) -> AsyncLimiter:
    """A limiter for `rate` events a second, `burst` of them back to back (default rate / 10).

    `async with limiter:` (or `await limiter.acquire()`) waits until one more event is allowed.
    The limiter binds to the event loop that first uses it.
    """
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"rate must be a positive number of events per second, got {rate!r}")
    size = max(1.0, rate / 10) if burst is None else burst
    if not (math.isfinite(size) and size >= 1):
        raise ValueError(f"burst must be at least 1, got {burst!r}")
    return AsyncLimiter(size, size / rate)
