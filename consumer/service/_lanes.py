"""Key-ordered concurrency within one partition.

Records with the same key run strictly one after another in offset order; different keys run
concurrently (the process-wide limit on requests in flight lives in the sender). A record
without a key shares one queue with the other keyless records of its partition.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeAlias

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from consumer.service._commits import ContiguousTracker
from consumer.service._outcome import Final
from consumer.service._record_flow import Abandoned

__all__ = ["Handler", "PartitionLane"]

_log = logging.getLogger("signal_relay.ordering")

Record: TypeAlias = ConsumerRecord[bytes, bytes]
Handler = Callable[[Record, asyncio.Event, float], Awaitable[Final]]
"""Takes a record to its `Final` outcome (`RecordFlow.run`): (record, closing, fetched_at)."""


class PartitionLane:
    """The records of one assigned partition: a queue and a worker per active key.

    A record is marked final in the lane's `tracker` when the handler returns its `Final`
    outcome; when and what is committed is `consumer/service/_commits.py`'s decision.
    `buffered` counts records fetched but not yet final; the relay pauses the partition when
    it reaches the bound. `close()` ends the lane within a grace period: on revocation it stops
    starting records at once; on shutdown it first finishes what is buffered, so that a restart
    re-sends as little as possible. Either way a record waiting out a backoff or a systemic
    pause is abandoned at once, and records not final at the end stay uncommitted.
    """

    def __init__(
        self,
        tp: TopicPartition,
        handle: Handler,
        *,
        on_progress: Callable[[PartitionLane], None],
        on_crash: Callable[[BaseException], None],
    ) -> None:
        self.tp = tp
        self.tracker = ContiguousTracker()
        self.closing = asyncio.Event()
        self._finish_buffered = False
        self._handle = handle
        self._on_progress = on_progress
        self._on_crash = on_crash
        self._queues: dict[bytes | None, deque[tuple[Record, float]]] = {}
        self._workers: set[asyncio.Task[None]] = set()

    @property
    def buffered(self) -> int:
        """Records fetched and not yet final."""
        return self.tracker.unfinished

    def submit(self, record: Record) -> None:
        """Queue a fetched record behind earlier records of its key."""
        if self.closing.is_set() or self.tracker.skip_finished(record.offset):
            return
        self.tracker.add(record.offset)
        entry = (record, time.monotonic())
        queue = self._queues.get(record.key)
        if queue is not None:
            queue.append(entry)
            return
        queue = deque((entry,))
        self._queues[record.key] = queue
        worker = asyncio.create_task(self._work(record.key, queue))
        self._workers.add(worker)
        worker.add_done_callback(self._workers.discard)

    async def _work(self, key: bytes | None, queue: deque[tuple[Record, float]]) -> None:
        try:
            while queue and (self._finish_buffered or not self.closing.is_set()):
                record, fetched_at = queue[0]
                await self._handle(record, self.closing, fetched_at)
                queue.popleft()
                self.tracker.finish(record.offset)
                self._on_progress(self)
        except Abandoned:
            pass
        except Exception as exc:
            _log.critical(
                "worker_crashed",
                extra={"fields": {"partition": self.tp.partition, "error": repr(exc)[:300]}},
            )
            self._on_crash(exc)
        finally:
            if self._queues.get(key) is queue:
                del self._queues[key]

    async def close(self, grace: float, *, finish_buffered: bool = False) -> None:
        """Take no more records; wait up to `grace` s for the workers, then cancel them."""
        self._finish_buffered = finish_buffered
        self.closing.set()
        workers = set(self._workers)
        if not workers:
            return
        _, pending = await asyncio.wait(workers, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
            _log.warning(
                "lane_close_timeout",
                extra={"fields": {"partition": self.tp.partition, "cancelled": len(pending)}},
            )
