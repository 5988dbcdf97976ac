"""The receiver's replay cache: every accepted signature, held until it leaves its window.

`signing.replay.InMemoryReplayCache` makes room by dropping the entries nearest to expiry, so
a flood of requests can make it forget signatures that are still fresh, and a captured request
could then be accepted again. The receiver uses `ReplayWindow` instead: it never forgets a
live entry. When it holds `capacity` live signatures it refuses to record another by raising
`ReplayWindowFullError` (the verifier lets it through; the receiver answers 503 with
`Retry-After`), and the client retries once the oldest entries have expired.
"""

from __future__ import annotations

import heapq
import math
import threading

from signing.receiver.errors import ReplayWindowFullError

__all__ = ["ReplayWindow"]


class ReplayWindow:
    """A thread-safe `signing.replay.ReplayCache` that refuses, never evicts, when full.

    An entry is held while `now <= expires_at` (the verifier passes the signature's timestamp
    plus `max_age_seconds`); expired entries are purged on every call. A signature already held
    is a replay (`remember` returns False) even when the cache is full, so a full cache never
    lets a captured request through. Each entry costs roughly 200 bytes (the 32-byte digest
    in a set, plus its expiry in a heap).
    """

    __slots__ = ("_capacity", "_expiries", "_held", "_lock")

    def __init__(self, capacity: int) -> None:
        if isinstance(capacity, bool) or capacity < 1:
            raise ValueError(f"capacity must be at least 1; got {capacity!r}")
        self._capacity = capacity
        self._held: set[bytes] = set()
        self._expiries: list[tuple[float, bytes]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._held)

    def __repr__(self) -> str:
        return f"ReplayWindow(entries={len(self)}, capacity={self._capacity})"

    @property
    def capacity(self) -> int:
        """The most signatures held at once."""
        return self._capacity

    def remember(self, signature: bytes, *, expires_at: float, now: float) -> bool:
        """Record `signature` until `expires_at`; False if it is already held (a replay).

        Raises ReplayWindowFullError, recording nothing, when `capacity` live signatures are
        held and this one is not among them.
        """
        with self._lock:
            self._purge(now)
            if signature in self._held:
                return False
            if len(self._held) >= self._capacity:
                soonest = self._expiries[0][0]
                # Held while now <= expires_at: it is gone once strictly more time has passed.
                retry_after = max(1, math.floor(soonest - now) + 1)
                raise ReplayWindowFullError(
                    f"the replay cache holds {self._capacity} signatures still inside their"
                    f" window; the oldest leaves it in {retry_after} s",
                    retry_after_seconds=retry_after,
                )
            self._held.add(signature)
            heapq.heappush(self._expiries, (expires_at, signature))
            return True

    def _purge(self, now: float) -> None:
        # The heap and the set hold the same entries: each is pushed once and popped once.
        expiries = self._expiries
        while expiries and expiries[0][0] < now:
            _, signature = heapq.heappop(expiries)
            self._held.discard(signature)
