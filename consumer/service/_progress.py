"""What the lag and assignment series say, so that a `sum()` over every member is the truth.

- **Only owned partitions.** A member exports `signal_relay_consumer_lag{group,topic,partition}`
  for the partitions it owns, and removes a partition's series when it is revoked: after a
  rebalance no member keeps reporting a partition it no longer reads, so summing the series of
  all members counts each partition once.
- **Lag = log end - the group's position.** The log end is asked of the broker (ListOffsets)
  on every refresh, so a paused or stuck partition does not report a stale high-watermark
  (the higher of the two is taken: see `_log_ends`). Under `read_committed` the log end is
  the last stable offset (LSO): records of an open transaction cannot be read yet, so they
  are not lag.
  The position is the offset this member last committed; before its first commit, the
  group's committed offset as the member found it on assignment; for a partition the group
  never committed, where consumption started (the log start with `auto_offset_reset=earliest`,
  else the fetch position when first seen). A partition never committed therefore has a series
  too.
- **Held by a transaction** (`TransactionHolds`, `read_committed` only): a partition whose
  group position has reached its LSO while the high-watermark is above it, for
  `HELD_AFTER_SECONDS`, waits on a producer's open transaction, not on the relay. It is
  counted in `signal_relay_transaction_held_partitions` and logged once per episode
  (`partition_held_by_transaction`, then `partition_released_by_transaction`).
- **Rebalances and assignments**: `signal_relay_rebalances_total` counts completed
  assignments, `signal_relay_assigned_partitions` is how many partitions this member owns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection, Iterable, Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from consumer.ops._metrics import RelayMetrics

__all__ = ["HELD_AFTER_SECONDS", "PartitionProgress", "TransactionHolds"]

_log = logging.getLogger("signal_relay.progress")
_REFRESH_SECONDS = 1.0
# Each group of broker questions of one refresh; past it the refresh uses what it knows.
_ASK_SECONDS = 2.0

HELD_AFTER_SECONDS = 10.0
"""How long a partition waits at its LSO, below the high-watermark, before it counts as held."""


class TransactionHolds:
    """Which partitions wait on an open transaction; one log event per episode.

    A partition is held when the group's position has reached the last stable offset, the
    high-watermark is above it (records of a transaction not yet committed or aborted), and
    that has lasted `after` seconds. Fed one observation per partition per refresh.
    """

    def __init__(
        self, after: float = HELD_AFTER_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._after = after
        self._clock = clock
        self._waiting: dict[TopicPartition, float] = {}  # tp -> since when, at its LSO
        self._held: dict[TopicPartition, float] = {}

    @property
    def held(self) -> int:
        """How many partitions are held now."""
        return len(self._held)

    def observe(
        self, tp: TopicPartition, position: int, stable: int | None, high: int | None
    ) -> None:
        """Where the group stands on `tp`, and its LSO and high-watermark from the last fetch."""
        now = self._clock()
        if stable is None or high is None or not 0 <= stable < high or position < stable:
            self._waiting.pop(tp, None)
            since = self._held.pop(tp, None)
            if since is not None:
                _log.info(
                    "partition_released_by_transaction",
                    extra={"fields": _where(tp, held_seconds=round(now - since, 1))},
                )
            return
        since = self._waiting.setdefault(tp, now)
        if tp not in self._held and now - since >= self._after:
            self._held[tp] = since
            _log.warning(
                "partition_held_by_transaction",
                extra={
                    "fields": _where(
                        tp,
                        last_stable_offset=stable,
                        high_watermark=high,
                        held_seconds=round(now - since, 1),
                    )
                },
            )

    def forget(self, tp: TopicPartition) -> None:
        """`tp` left this member: its episode ends unlogged (the next owner sees it anew)."""
        self._waiting.pop(tp, None)
        self._held.pop(tp, None)


def _where(tp: TopicPartition, **fields: object) -> dict[str, object]:
    return {"topic": tp.topic, "partition": tp.partition, **fields}


class PartitionProgress:
    """Keeps the lag and assignment series of one member in step with what it owns."""

    def __init__(
        self,
        metrics: RelayMetrics,
        group: str,
        *,
        from_earliest: bool,
        read_committed: bool = False,
        holds: TransactionHolds | None = None,
    ) -> None:
        self._metrics = metrics
        self._group = group
        self._from_earliest = from_earliest
        self._read_committed = read_committed
        self._holds = holds or TransactionHolds()
        # tp -> the group's position found when the partition was assigned (no commit of ours)
        self._start: dict[TopicPartition, int] = {}
        self._exported: set[TopicPartition] = set()

    def assigned(self, owned: int) -> None:
        """A rebalance completed: count it and how many partitions this member now owns."""
        self._metrics.rebalances.labels(self._group).inc()
        self._metrics.assigned_partitions.labels(self._group).set(owned)

    def revoked(self, revoked: Iterable[TopicPartition], owned: int) -> None:
        """Partitions left this member: their series go, so no stale lag outlives ownership."""
        for tp in revoked:
            self._start.pop(tp, None)
            self._holds.forget(tp)
            self._forget(tp)
        self._metrics.assigned_partitions.labels(self._group).set(owned)
        self._metrics.transaction_held_partitions.labels(self._group).set(self._holds.held)

    async def run(
        self,
        consumer: AIOKafkaConsumer,
        owned: Mapping[TopicPartition, object],
        committed: Callable[[TopicPartition], int | None],
        stop: asyncio.Event,
    ) -> None:
        """Refresh the lag every second until `stop`.

        A task of its own, so that its broker questions never delay the relay's other watches
        (broker reachability, readiness).
        """
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), _REFRESH_SECONDS)
            await self.refresh(consumer, owned, committed)

    async def refresh(
        self,
        consumer: AIOKafkaConsumer,
        owned: Mapping[TopicPartition, object],
        committed: Callable[[TopicPartition], int | None],
    ) -> None:
        """Set the lag of every owned partition; `owned` is read again after each broker call."""
        tps = list(owned)
        if not tps:
            return
        ends = await self._log_ends(consumer, tps)
        unknown = [tp for tp in tps if tp not in self._start and committed(tp) is None]
        if unknown:
            await self._find_starts(consumer, unknown, owned)
        for tp in tps:
            position = committed(tp)
            if position is None:
                position = self._start.get(tp)
            end = ends.get(tp)
            if tp not in owned or end is None or position is None:
                continue
            self._metrics.lag.labels(self._group, tp.topic, str(tp.partition)).set(
                max(0, end - position)
            )
            self._exported.add(tp)
            if self._read_committed:
                self._holds.observe(tp, position, *_fetched_ends(consumer, tp))
        for tp in self._exported - set(owned):
            self._holds.forget(tp)
            self._forget(tp)
        self._metrics.transaction_held_partitions.labels(self._group).set(self._holds.held)

    def _forget(self, tp: TopicPartition) -> None:
        if tp in self._exported:
            self._exported.discard(tp)
            self._metrics.lag.remove(self._group, tp.topic, str(tp.partition))

    async def _log_ends(
        self, consumer: AIOKafkaConsumer, tps: Collection[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """The log end of each partition: the higher of ListOffsets and the last fetch's figure.

        Under `read_committed` both are the LSO (ListOffsets asks with the consumer's isolation
        level), else the high-watermark. Each only ever understates it: the fetch's figure is
        as old as the partition's last fetch (a paused partition is not fetched), and Tansu
        answers ListOffsets with the last batch's first offset + 1.
        """
        asked: dict[TopicPartition, int] = {}
        try:
            async with asyncio.timeout(_ASK_SECONDS):
                asked = await consumer.end_offsets(list(tps))
        except (KafkaError, OSError, TimeoutError) as exc:  # unreachable: the fetch's figure
            _log.debug("log_end_unknown", extra={"fields": {"error": repr(exc)[:300]}})
        ends: dict[TopicPartition, int] = {}
        for tp in tps:
            stable, high = _fetched_ends(consumer, tp)
            fetched = (
                stable if self._read_committed and stable is not None and stable >= 0 else high
            )
            known = [end for end in (asked.get(tp), fetched) if end is not None]
            if known:
                ends[tp] = max(known)
        return ends

    async def _find_starts(
        self,
        consumer: AIOKafkaConsumer,
        tps: list[TopicPartition],
        owned: Mapping[TopicPartition, object],
    ) -> None:
        """Note where the group stands on `tps`, all within one `_ASK_SECONDS`."""
        try:
            async with asyncio.timeout(_ASK_SECONDS):
                for tp in tps:
                    start = await self._start_position(consumer, tp)
                    if tp in owned:
                        self._start[tp] = start
        except (KafkaError, OSError, TimeoutError) as exc:  # asked again on the next refresh
            _log.debug("start_position_unknown", extra={"fields": {"error": repr(exc)[:300]}})

    async def _start_position(self, consumer: AIOKafkaConsumer, tp: TopicPartition) -> int:
        """The group's committed offset of `tp`, else where consumption of it started."""
        found: int | None = await consumer.committed(tp)
        if found is not None and found >= 0:
            return found
        if self._from_earliest:
            starts: dict[TopicPartition, int] = await consumer.beginning_offsets([tp])
            return starts[tp]
        position: int = await consumer.position(tp)
        return position


def _fetched_ends(consumer: AIOKafkaConsumer, tp: TopicPartition) -> tuple[int | None, int | None]:
    """(LSO, high-watermark) of `tp` from its last fetch answer; None before one, or unassigned."""
    if tp not in consumer.assignment():
        return None, None
    stable: int | None = consumer.last_stable_offset(tp)
    high: int | None = consumer.highwater(tp)
    return stable, high
