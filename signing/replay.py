"""Memory of accepted signatures, so a captured request cannot be replayed inside its window."""

import heapq
import threading
from typing import Protocol

from signing.errors import SigningInputError

DEFAULT_MAX_ENTRIES = 100_000


class ReplayCache(Protocol):
    """Remembers signatures until they expire; the check and the record are one atomic step."""

    def remember(self, signature: bytes, *, expires_at: float, now: float) -> bool:
        """Record `signature` until `expires_at`; False if it is already held (a replay).

        Times are seconds on the caller's clock. An entry is held while `now <= expires_at`.
        """
        ...


class InMemoryReplayCache:
    """A thread-safe, bounded ReplayCache in process memory.

    Expired entries are purged on every call. When `max_entries` live entries are held, the
    ones closest to expiry are dropped first: only fully verified requests are recorded, so
    the bound is reached by genuine load, and the oldest signatures are the nearest to being
    refused as stale anyway.
    """

    __slots__ = ("_expiries", "_held", "_lock", "_max_entries")

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise SigningInputError(f"max_entries must be at least 1; got {max_entries}")
        self._max_entries = max_entries
        self._held: set[bytes] = set()
        self._expiries: list[tuple[float, bytes]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._held)

    def __repr__(self) -> str:
        return f"InMemoryReplayCache(entries={len(self)}, max_entries={self._max_entries})"

    def remember(self, signature: bytes, *, expires_at: float, now: float) -> bool:
        """Record `signature` until `expires_at`; False if it is already held (a replay)."""
        with self._lock:
            self._drop_expired(now)
            if signature in self._held:
                return False
            while len(self._held) >= self._max_entries:
                self._drop_soonest()
            self._held.add(signature)
            heapq.heappush(self._expiries, (expires_at, signature))
            return True

    def _drop_expired(self, now: float) -> None:
        while self._expiries and self._expiries[0][0] < now:
            self._drop_soonest()

    def _drop_soonest(self) -> None:
        # The heap and the set hold the same entries: each record is pushed once, popped once.
        _, signature = heapq.heappop(self._expiries)
        self._held.remove(signature)
