"""Duplicates after a crash: SIGKILL the relay mid-backlog at full speed, start a new one.

Whatever was delivered but not yet committed when the relay died is sent again by its
successor, with the same idempotency key. The receiver's ledger counts validly signed
requests per signal, so a signal with more than one was posted twice.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from bench.backlog import Backlog
from bench.end_to_end import Stage
from bench.processes import BenchError, wait_for
from bench.relay import relay_env, running_relay
from consumer.tools import committed_offsets

__all__ = ["CrashRun", "measure_crash"]

_WAIT_SECONDS = 120.0


@dataclass(frozen=True, slots=True)
class CrashRun:
    """What a SIGKILL cost.

    Attributes:
        total: signals in the backlog.
        accepted_at_kill: distinct signals accepted when the relay was killed.
        duplicated: signals posted more than once.
        extra_posts: posts beyond the first, summed over all signals.
        recovery_seconds: from the kill to the successor's first new 201.
        lost: signals never accepted (must be 0).
    """

    total: int
    accepted_at_kill: int
    duplicated: int
    extra_posts: int
    recovery_seconds: float
    lost: int


async def measure_crash(stage: Stage, backlog: Backlog) -> CrashRun:
    """Kill the relay once half of `backlog` is accepted; a successor finishes the job."""
    receiver = stage.receiver
    await receiver.set_faults()
    await receiver.clear()
    group = f"crash-{uuid.uuid4().hex[:8]}"
    env = relay_env(stage.bootstrap, backlog.topic, receiver.url, KAFKA_GROUP_ID=group)
    async with running_relay(env, stage.logs / "relay-crash.log") as relay:
        await receiver.watch(backlog.count // 2, _WAIT_SECONDS)
        await relay.kill()
    killed_at = time.monotonic()
    accepted_at_kill = await receiver.accepted()
    successor = relay_env(stage.bootstrap, backlog.topic, receiver.url, KAFKA_GROUP_ID=group)
    async with running_relay(successor, stage.logs / "relay-crash.log"):
        resumed = await receiver.watch(accepted_at_kill + 1, _WAIT_SECONDS)

        async def all_committed() -> bool:
            offsets = await committed_offsets(stage.bootstrap, group, backlog.topic)
            return offsets == backlog.ends

        await wait_for(all_committed, _WAIT_SECONDS, "the successor to commit the backlog")
    ledger = await receiver.ledger(detail=True)
    deliveries: dict[str, int] = ledger["deliveries"]
    if int(ledger["accepted"]) > backlog.count:
        raise BenchError(f"{ledger['accepted']} signals accepted from {backlog.count} records")
    return CrashRun(
        total=backlog.count,
        accepted_at_kill=accepted_at_kill,
        duplicated=sum(1 for n in deliveries.values() if n > 1),
        extra_posts=sum(n - 1 for n in deliveries.values()),
        recovery_seconds=resumed.last_at - killed_at,
        lost=backlog.count - int(ledger["accepted"]),
    )
