"""Memory under a large backlog while the signal server is down, then recovery.

The receiver answers every ingest request 503 for a while: the relay fetches until its
per-partition buffers are full, pauses those partitions and retries with backoff. Then the
receiver heals and the whole backlog must drain. Resident memory is sampled throughout.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

from bench.backlog import Backlog
from bench.end_to_end import Stage
from bench.processes import sampling_rss
from bench.relay import relay_env, running_relay

__all__ = ["RETRY_MAX_SECONDS", "MemoryRun", "measure_memory"]

RETRY_MAX_SECONDS = 2.0
"""The backoff ceiling during this run, so that recovery is not a wait for 30 s backoffs."""

_DRAIN_SECONDS_PER_RECORD = 0.005
_MIN_WAIT_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class MemoryRun:
    """Peak memory and recovery.

    Attributes:
        backlog: records waiting in the topic.
        down_seconds: how long the receiver answered 503.
        refused: 503 answers the relay received meanwhile.
        start_rss_mb: RSS once the relay had joined its group.
        peak_down_rss_mb: peak RSS while the receiver was down.
        peak_rss_mb: peak RSS over the whole run.
        end_rss_mb: RSS after everything was delivered.
        delivered: distinct signals accepted in the end.
        drain_seconds: from the receiver healing to the last 201.
        rate: signals per second, first to last 201 after healing.
    """

    backlog: int
    down_seconds: float
    refused: int
    start_rss_mb: float
    peak_down_rss_mb: float
    peak_rss_mb: float
    end_rss_mb: float
    delivered: int
    drain_seconds: float
    rate: float


async def measure_memory(stage: Stage, backlog: Backlog, down_seconds: float) -> MemoryRun:
    """Run one relay over `backlog`: receiver down for `down_seconds`, then healthy."""
    receiver = stage.receiver
    await receiver.clear()
    await receiver.set_faults(error_rate=1.0)
    env = relay_env(
        stage.bootstrap,
        backlog.topic,
        receiver.url,
        KAFKA_GROUP_ID=f"memory-{uuid.uuid4().hex[:8]}",
        RELAY_RETRY_MAX_SECONDS=RETRY_MAX_SECONDS,
    )
    async with (
        running_relay(env, stage.logs / "relay-memory.log") as relay,
        sampling_rss(relay.pid) as rss,
    ):
        start = rss.sample()
        # The outage is the thing measured: hold it for its whole length.
        await asyncio.sleep(down_seconds)
        peak_down = rss.peak
        refused = int((await receiver.ledger())["statuses"].get("503", 0))
        await receiver.set_faults()
        healed = time.monotonic()
        watch = await receiver.watch(
            backlog.count, max(_MIN_WAIT_SECONDS, backlog.count * _DRAIN_SECONDS_PER_RECORD)
        )
        end = rss.sample()
    mb = 2**20
    return MemoryRun(
        backlog=backlog.count,
        down_seconds=down_seconds,
        refused=refused,
        start_rss_mb=start / mb,
        peak_down_rss_mb=peak_down / mb,
        peak_rss_mb=rss.peak / mb,
        end_rss_mb=end / mb,
        delivered=watch.last_count,
        drain_seconds=watch.last_at - healed,
        rate=watch.rate,
    )
