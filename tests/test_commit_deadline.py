"""Commits have a deadline: a broker that does not answer makes a commit fail, never block."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from aiokafka import TopicPartition
from aiokafka.structs import OffsetAndMetadata

from consumer.service import CommitLoop, ContiguousTracker, drain_commit_budget

TP = TopicPartition("t", 0)


class SilentBroker:
    """A commit function whose broker never answers; counts the attempts."""

    def __init__(self) -> None:
        self.attempts = 0
        self.asked = asyncio.Event()

    async def commit(self, offsets: Mapping[TopicPartition, OffsetAndMetadata]) -> None:
        self.attempts += 1
        self.asked.set()
        await asyncio.Event().wait()


def _tracker_with_final(offset: int) -> ContiguousTracker:
    tracker = ContiguousTracker()
    tracker.add(offset)
    tracker.finish(offset)
    return tracker


async def test_unanswered_commit_fails_within_its_deadline() -> None:
    """The commit returns False at its deadline, is counted as failed, and is tried again later."""
    broker, failures = SilentBroker(), []
    trackers = {TP: _tracker_with_final(4)}
    loop = CommitLoop(
        lambda: trackers, broker.commit, 0.05, on_failed=lambda: failures.append(1), timeout=0.2
    )
    assert await asyncio.wait_for(loop.commit_now(), 5) is False
    assert await asyncio.wait_for(loop.commit_now(within=0.1), 5) is False
    assert (broker.attempts, len(failures)) == (2, 2)
    assert loop.committed(TP) is None


async def test_waiting_behind_a_stuck_commit_counts_against_the_deadline() -> None:
    """A revoke or drain commit does not wait past its own deadline for a periodic one."""
    broker, failures = SilentBroker(), []
    trackers = {TP: _tracker_with_final(9)}
    loop = CommitLoop(
        lambda: trackers, broker.commit, 0.05, on_failed=lambda: failures.append(1), timeout=30
    )
    periodic = asyncio.create_task(loop.commit_now())
    await asyncio.wait_for(broker.asked.wait(), 5)
    assert await asyncio.wait_for(loop.commit_now(within=0.2), 5) is False
    assert broker.attempts == 1
    periodic.cancel()
    await asyncio.gather(periodic, return_exceptions=True)
    assert len(failures) == 1


class IdleLane:
    """A lane with nothing in flight: closing it is immediate."""

    def __init__(self, tracker: ContiguousTracker) -> None:
        self.tp = TP
        self.tracker = tracker
        self.buffered = 0

    async def close(self, grace: float, *, finish_buffered: bool = False) -> None:
        return None


async def test_drain_commit_fails_at_its_budget_when_the_broker_is_silent() -> None:
    """On SIGTERM with the broker silent, the drain ends after its commit budget, not later."""
    broker = SilentBroker()
    lane = IdleLane(_tracker_with_final(2))
    loop = CommitLoop(lambda: {TP: lane.tracker}, broker.commit, 0.05, timeout=30)
    started = asyncio.get_running_loop().time()
    assert await asyncio.wait_for(loop.drain([lane], grace=0.1), 5) is False
    assert asyncio.get_running_loop().time() - started < drain_commit_budget(0.1) + 1
    assert (broker.attempts, loop.committed(TP)) == (1, None)
