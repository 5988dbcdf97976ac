"""On shutdown, the lanes finish what they buffered, then one commit, all within the grace."""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition

from consumer.service import drain_commit_budget
from unit.doubles import TOPIC, MemoryBroker, commit_loop, lane, record, rig

TP = TopicPartition(TOPIC, 0)


async def test_drain_finishes_buffered_records_then_commits_them() -> None:
    """Unlike a revoke, a drain delivers the records queued behind the one in flight."""
    r, broker = rig(), MemoryBroker()
    release = r.server.hold("A")
    partition = lane(r.flow)
    commits = commit_loop([partition], broker)
    for offset in range(3):
        partition.submit(record(offset, "A", offset))
    await r.server.until(lambda: len(r.server.posted) == 1)
    draining = asyncio.create_task(commits.drain([partition], grace=10.0))
    release.set()
    assert await asyncio.wait_for(draining, 5) is True
    assert r.server.notes("A") == ["seq=0", "seq=1", "seq=2"]
    assert broker.commits == [{TP: 3}]


async def test_drain_commits_the_final_prefix_when_a_record_outlives_the_grace() -> None:
    """A record still in flight when the lanes' share of the grace ends is cut; the rest commits."""
    r, broker = rig(), MemoryBroker()
    r.server.hold("STUCK")
    partition = lane(r.flow)
    commits = commit_loop([partition], broker)
    partition.submit(record(0, "DONE"))
    partition.submit(record(1, "STUCK"))
    await r.server.until(lambda: len(r.server.posted) == 2)
    assert await asyncio.wait_for(commits.drain([partition], grace=0.5), 5) is True
    assert broker.commits == [{TP: 1}]
    assert partition.buffered == 1


def test_the_commit_budget_is_a_quarter_of_the_grace_within_one_to_five_seconds() -> None:
    """Of a 25 s grace 5 s go to the commit, of 8 s 2 s, of 2 s still 1 s."""
    assert [drain_commit_budget(g) for g in (25.0, 8.0, 2.0, 0.0)] == [5.0, 2.0, 1.0, 1.0]
