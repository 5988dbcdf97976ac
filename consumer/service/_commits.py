"""When an offset is committed: the whole rule, in the order a record meets it.

1. **Final outcomes only.** A record's offset counts once `RecordFlow.run` returned a `Final`
   outcome for it (delivered, duplicate, dead-lettered; in dry run, logged). A record abandoned
   on revoke or shutdown has none and is never committed: its next owner re-sends it with the
   same idempotency key.
2. **The contiguous prefix** (`ContiguousTracker`, one per partition). The committable offset
   is one past the highest offset below which every record seen is final (Kafka's "next offset
   to read"). Records finish out of order (different keys run concurrently), so a finished
   record above an unfinished one waits for it.
   The final offsets above it travel in the commit's metadata (`_finished_offsets.py`,
   bounded: the lowest runs that fit), and a partition's next owner skips them
   (`ContiguousTracker.resume`, `skip_finished`): after a restart only what was in flight is
   sent again. Metadata that does not parse exactly skips nothing.
   **Gaps** between fetched records (aborted transactions, compacted records) hold nothing:
   only fetched records are tracked. A gap after the last one (a transaction's commit marker,
   a control batch the consumer never returns) is passed with `ContiguousTracker.advance_to`:
   once every fetched record is final, the fetch position itself is committable.
3. **Periodically** (`CommitLoop.run`): every `RELAY_COMMIT_INTERVAL_SECONDS`, the offsets
   (or the final runs above them) that changed since the last commit, in one commit; at most
   one commit is in flight.
4. **On revoke** (`CommitLoop.revoke`): the revoked lanes stop starting records and give those
   in flight `RELAY_REVOKE_GRACE_SECONDS`; what is final is committed within
   `REVOKE_COMMIT_SECONDS`, before the partitions go (config keeps the two under the rebalance
   timeout).
5. **On drain** (`CommitLoop.drain`, SIGTERM): the shutdown grace is split; the lanes finish
   what they buffered within most of it, the final commit gets the rest (1-5 s).
6. **Dry run never commits** (`CommitPolicy.NEVER`, chosen once, at construction): 3 to 5
   commit nothing, so that a real run later starts where the dry run started.

Every commit has a deadline: with the broker unreachable a commit fails instead of blocking, is
counted and logged, and the offsets wait for the next round. Offsets left uncommitted only ever
cause re-sends with the same idempotency key.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import Protocol

from aiokafka import TopicPartition
from aiokafka.errors import OffsetMetadataTooLargeError
from aiokafka.structs import OffsetAndMetadata

from consumer.service._finished_offsets import METADATA_LIMIT, OffsetRange, encode_finished, runs

__all__ = [
    "REVOKE_COMMIT_SECONDS",
    "CommitLoop",
    "CommitPolicy",
    "ContiguousTracker",
    "Lane",
    "drain_commit_budget",
]

_log = logging.getLogger("signal_relay.commits")

REVOKE_COMMIT_SECONDS = 5.0
"""The revoke commit's deadline; config keeps revoke grace + this under the rebalance timeout."""

# Of the shutdown grace, the part kept for the final commit (at least 1 s, at most 5 s).
_DRAIN_COMMIT_SHARE = 0.25


class ContiguousTracker:
    """Offsets of one partition in fetch order, and which of them are final (rule 2)."""

    __slots__ = ("_done", "_next", "_on_skip", "_origin", "_pending", "_resumed")

    def __init__(self) -> None:
        self._pending: deque[tuple[int, float]] = deque()
        self._done: set[int] = set()
        self._next: int | None = None
        self._resumed: deque[OffsetRange] = deque()
        self._on_skip: Callable[[], None] | None = None
        self._origin: int | None = None

    def resume(
        self, finished: Iterable[OffsetRange], on_skip: Callable[[], None] | None = None
    ) -> None:
        """Runs of offsets an earlier owner finished (from the commit metadata): never re-sent."""
        self._resumed = deque(sorted(finished))
        self._on_skip = on_skip

    def skip_finished(self, offset: int) -> bool:
        """Track a fetched record as final if an earlier owner finished it; True when skipped."""
        resumed = self._resumed
        while resumed and resumed[0][1] <= offset:
            resumed.popleft()
        if not resumed or offset < resumed[0][0]:
            return False
        self.add(offset)
        self.finish(offset)
        if self._on_skip is not None:
            self._on_skip()
        return True

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

    def advance_to(self, position: int | None) -> None:
        """Make the fetch `position` committable once nothing below it is unfinished.

        The caller promises that every record below `position` was tracked (the fetch loop
        calls it right after submitting what a fetch returned, for a lane it still feeds).
        Ignored while any tracked record is not final: only the offsets after the last final
        record are passed, and they are no records (a commit or abort marker, records of an
        aborted transaction, compacted ones). Before anything was tracked, the first position
        given is only noted: committing where the group already stands would overwrite the
        final runs in its metadata before `resume` has read them.
        """
        if position is None or self._pending:
            return
        if self._next is None:
            if self._origin is None:
                self._origin = position
            if position <= self._origin:
                return
        elif position <= self._next:
            return
        self._next = position

    @property
    def committable(self) -> int | None:
        """The offset to commit (one past the final prefix), or None before anything is final."""
        return self._next

    def commit_point(self, limit: int = METADATA_LIMIT) -> tuple[int, str] | None:
        """The offset to commit and its metadata (the final runs above it), or None.

        Before the first final prefix the offset is the first unfinished one, when anything
        above it is final already.
        """
        above = runs(self._done)
        if self._resumed:
            seen = self._pending[-1][0] if self._pending else (self._next or 0) - 1
            above += [(max(start, seen + 1), end) for start, end in self._resumed]
        base = self._next
        if base is None:
            if not above or not self._pending:
                return None
            base = self._pending[0][0]
        # A resumed run may start at the base itself (not fetched yet): only what is above it.
        floor = base + 1
        above = [(max(start, floor), end) for start, end in _merged(above) if end > floor]
        return base, encode_finished(base, above, limit)

    @property
    def unfinished(self) -> int:
        """How many tracked records are not yet part of the committable prefix."""
        return len(self._pending)

    def oldest_unfinished_age(self, now: float | None = None) -> float:
        """Seconds since the oldest record not yet committable was fetched (0 when none)."""
        if not self._pending:
            return 0.0
        return (time.monotonic() if now is None else now) - self._pending[0][1]


def _merged(ranges: list[OffsetRange]) -> list[OffsetRange]:
    merged: list[OffsetRange] = []
    for start, end in ranges:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


class Lane(Protocol):
    """What the commit rule needs of one partition's lane (`PartitionLane`)."""

    @property
    def tp(self) -> TopicPartition:
        """The partition."""
        ...

    @property
    def tracker(self) -> ContiguousTracker:
        """Which of its fetched records are final."""
        ...

    @property
    def buffered(self) -> int:
        """Records fetched and not yet final."""
        ...

    async def close(self, grace: float, *, finish_buffered: bool = False) -> None:
        """Take no more records; give the workers `grace` seconds, then cancel them."""
        ...


class CommitPolicy(enum.Enum):
    """Whether this process commits offsets at all; chosen once, when the relay is built."""

    COMMIT = "commit"
    """Final offsets are committed: periodically, on revoke and on drain."""
    NEVER = "never"
    """Dry run: nothing is ever committed; the group's offsets stay where they were."""


def drain_commit_budget(grace: float) -> float:
    """Seconds of a `grace`-second drain kept for the final commit: a quarter, within 1-5 s."""
    return min(5.0, max(1.0, grace * _DRAIN_COMMIT_SHARE))


CommitFn = Callable[[Mapping[TopicPartition, OffsetAndMetadata]], Awaitable[None]]


class CommitLoop:
    """Every commit of one group member: periodic, on revoke and on drain (rules 3 to 6).

    At most one commit is in flight: a lock keeps the revoke and drain commits from racing the
    periodic one. Every commit has a deadline (`timeout`, or the caller's): with the broker
    unreachable a commit fails instead of blocking, so a revocation or a SIGTERM ends within
    its grace period. A failed or timed-out commit is counted (`on_failed`), logged and retried
    on the next round.
    """

    def __init__(
        self,
        trackers: Callable[[], Mapping[TopicPartition, ContiguousTracker]],
        commit: CommitFn,
        interval: float,
        *,
        policy: CommitPolicy = CommitPolicy.COMMIT,
        on_committed: Callable[[Mapping[TopicPartition, int]], None] | None = None,
        on_failed: Callable[[], None] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.policy = policy
        self._trackers = trackers
        self._commit = commit
        self._interval = interval
        self._timeout = timeout
        self._on_committed = on_committed
        self._on_failed = on_failed
        self._committed: dict[TopicPartition, int] = {}
        self._points: dict[TopicPartition, tuple[int, str]] = {}
        self._metadata_limit = METADATA_LIMIT
        self._lock = asyncio.Lock()

    def committed(self, tp: TopicPartition) -> int | None:
        """The last offset this process committed for `tp`."""
        return self._committed.get(tp)

    def forget(self, tps: Iterable[TopicPartition]) -> None:
        """Drop what we know of partitions we no longer own."""
        for tp in tps:
            self._committed.pop(tp, None)
            self._points.pop(tp, None)

    async def run(self, stop: asyncio.Event) -> None:
        """Start a commit every `interval` until `stop` is set (rule 3).

        The interval runs from one commit's start to the next's, not from its end: a slow
        commit (a busy event loop, a slow broker) does not stretch what a crash re-sends.
        """
        due = time.monotonic() + self._interval
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, due - time.monotonic()))
            due = time.monotonic() + self._interval
            await self.commit_now()

    async def revoke(self, lanes: Collection[Lane], grace: float) -> bool:
        """Close the revoked `lanes` within `grace` s, commit what is final, forget them (rule 4).

        Records still in flight at the end of the grace are cancelled and stay uncommitted.
        True when nothing failed.
        """
        await asyncio.gather(*(lane.close(grace) for lane in lanes))
        tps = frozenset(lane.tp for lane in lanes)
        committed = await self.commit_now(only=tps, within=REVOKE_COMMIT_SECONDS)
        self.forget(tps)
        return committed

    async def drain(self, lanes: Collection[Lane], grace: float) -> bool:
        """Finish the buffered records of `lanes`, then commit, all within `grace` s (rule 5).

        The lanes get `grace` minus `drain_commit_budget(grace)`; the commit gets what is left
        (at least the budget), so that SIGTERM ends in time even when the broker does not
        answer. True when nothing failed.
        """
        started = time.monotonic()
        budget = drain_commit_budget(grace)
        lane_grace = max(0.0, grace - budget)
        await asyncio.gather(*(lane.close(lane_grace, finish_buffered=True) for lane in lanes))
        remaining = grace - (time.monotonic() - started)
        committed = await self.commit_now(within=max(budget, remaining))
        _log.info(
            "drained",
            extra={
                "fields": {
                    "seconds": round(time.monotonic() - started, 3),
                    "committed": committed,
                    "unfinished": sum(lane.buffered for lane in lanes),
                }
            },
        )
        return committed

    async def commit_now(
        self, only: frozenset[TopicPartition] | None = None, *, within: float | None = None
    ) -> bool:
        """Commit every advanced offset (of `only`, when given); True when nothing failed.

        `within` seconds (default: the loop's `timeout`) bound the whole call, including the wait
        for a commit already in flight. Under `CommitPolicy.NEVER` nothing is committed (rule 6).
        """
        if self.policy is CommitPolicy.NEVER:
            return True
        deadline = time.monotonic() + (self._timeout if within is None else within)
        try:
            await asyncio.wait_for(self._lock.acquire(), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            return self._failed(TimeoutError("an earlier commit is still in flight"))
        try:
            due = {
                tp: point
                for tp, tracker in self._trackers().items()
                if (only is None or tp in only)
                and (point := tracker.commit_point(self._metadata_limit)) is not None
                and point != self._points.get(tp)
            }
            if not due:
                return True
            offsets = {tp: OffsetAndMetadata(o, m) for tp, (o, m) in due.items()}
            try:
                await asyncio.wait_for(self._commit(offsets), max(0.0, deadline - time.monotonic()))
            except OffsetMetadataTooLargeError as exc:
                # A broker with a smaller offset.metadata.max.bytes: plain commits from now on.
                self._metadata_limit = 0
                return self._failed(exc)
            except Exception as exc:  # any commit failure (a timeout too) is retried next round
                return self._failed(exc)
            self._points.update(due)
            committed = {tp: o for tp, (o, _) in due.items()}
            self._committed.update(committed)
            if self._on_committed is not None:
                self._on_committed(committed)
            return True
        finally:
            self._lock.release()

    def _failed(self, exc: BaseException) -> bool:
        if self._on_failed is not None:
            self._on_failed()
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        _log.warning("commit_failed", extra={"fields": {"error": error[:300]}})
        return False
