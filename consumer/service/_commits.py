"""When an offset is committed: the contiguous-final rule, per partition, and the commit loop.

A partition's committable offset is one past the highest offset below which every record seen
has a final outcome (Kafka's "next offset to read"). Records finish out of order (different keys
run concurrently), so a finished record above an unfinished one waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping

from aiokafka import TopicPartition

__all__ = ["CommitLoop", "ContiguousTracker"]

_log = logging.getLogger("signal_relay.commits")


class ContiguousTracker:
    """Offsets of one partition in fetch order, and which of them are final."""

    __slots__ = ("_done", "_next", "_pending")

    def __init__(self) -> None:
        self._pending: deque[tuple[int, float]] = deque()
        self._done: set[int] = set()
        self._next: int | None = None

    def add(self, offset: int) -> None:
        """Track a fetched record; offsets must arrive in increasing order."""
        if self._pending and offset <= self._pending[-1][0]:
            raise ValueError(f"offset {offset} is not above {self._pending[-1][0]}")
        self._pending.append((offset, time.monotonic()))

    def finish(self, offset: int) -> None:
        """Mark a record final; advances the committable offset over a finished prefix."""
        self._done.add(offset)
        pending, done = self._pending, self._done
        while pending and pending[0][0] in done:
            head, _ = pending.popleft()
            done.discard(head)
            self._next = head + 1

    @property
    def committable(self) -> int | None:
        """The offset to commit (one past the final prefix), or None before anything is final."""
        return self._next

    @property
    def unfinished(self) -> int:
        """How many tracked records are not yet part of the committable prefix."""
        return len(self._pending)

    def oldest_unfinished_age(self, now: float | None = None) -> float:
        """Seconds since the oldest record not yet committable was fetched (0 when none)."""
        if not self._pending:
            return 0.0
        return (time.monotonic() if now is None else now) - self._pending[0][1]


CommitFn = Callable[[Mapping[TopicPartition, int]], Awaitable[None]]


class CommitLoop:
    """Coalesced commits: at most one in flight, at most every `interval` seconds.

    `commit_now()` is also used on revocation and shutdown; a lock keeps those from racing
    the periodic commit. Every commit has a deadline (`timeout`, or the caller's): with the
    broker unreachable a commit fails instead of blocking, so a revocation or a SIGTERM ends
    within its grace period. A failed or timed-out commit is counted, logged and retried on the
    next round: the offsets stay uncommitted, which only ever causes re-sends with the same
    idempotency key.
    """

    def __init__(
        self,
        trackers: Callable[[], Mapping[TopicPartition, ContiguousTracker]],
        commit: CommitFn,
        interval: float,
        *,
        on_committed: Callable[[Mapping[TopicPartition, int]], None] | None = None,
        on_failed: Callable[[], None] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._trackers = trackers
        self._commit = commit
        self._interval = interval
        self._timeout = timeout
        self._on_committed = on_committed
        self._on_failed = on_failed
        self._committed: dict[TopicPartition, int] = {}
        self._lock = asyncio.Lock()

    def committed(self, tp: TopicPartition) -> int | None:
        """The last offset this process committed for `tp`."""
        return self._committed.get(tp)

    def forget(self, tps: Iterable[TopicPartition]) -> None:
        """Drop what we know of partitions we no longer own."""
        for tp in tps:
            self._committed.pop(tp, None)

    async def commit_now(
        self, only: frozenset[TopicPartition] | None = None, *, within: float | None = None
    ) -> bool:
        """Commit every advanced offset (of `only`, when given); True when nothing failed.

        `within` seconds (default: the loop's `timeout`) bound the whole call, including the wait
        for a commit already in flight.
        """
        deadline = time.monotonic() + (self._timeout if within is None else within)
        try:
            await asyncio.wait_for(self._lock.acquire(), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            return self._failed(TimeoutError("an earlier commit is still in flight"))
        try:
            due = {
                tp: offset
                for tp, tracker in self._trackers().items()
                if (only is None or tp in only)
                and (offset := tracker.committable) is not None
                and offset != self._committed.get(tp)
            }
            if not due:
                return True
            try:
                await asyncio.wait_for(self._commit(due), max(0.0, deadline - time.monotonic()))
            except Exception as exc:  # any commit failure (a timeout too) is retried next round
                return self._failed(exc)
            self._committed.update(due)
            if self._on_committed is not None:
                self._on_committed(due)
            return True
        finally:
            self._lock.release()

    def _failed(self, exc: BaseException) -> bool:
        if self._on_failed is not None:
            self._on_failed()
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        _log.warning("commit_failed", extra={"fields": {"error": error[:300]}})
        return False

    async def run(self, stop: asyncio.Event) -> None:
        """Commit every `interval` until `stop` is set."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval)
            await self.commit_now()
