"""Commits advance over the contiguous final prefix only, and only when it moved."""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition

from consumer.service import decode_finished
from unit.doubles import TOPIC, MemoryBroker, commit_loop, lane, record, rig

TP = TopicPartition(TOPIC, 0)


async def test_a_final_record_above_an_unfinished_one_is_not_committed() -> None:
    """B's records finish first: the commit stays at A's offset 0 (B's in its metadata)."""
    r, broker = rig(), MemoryBroker()
    release_a = r.server.hold("A")
    partition = lane(r.flow)
    commits = commit_loop([partition], broker)
    for offset, key in enumerate(["A", "B", "B"]):
        partition.submit(record(offset, key, offset))
    await r.server.until(lambda: len(r.server.notes("B")) == 2)
    assert await commits.commit_now() is True
    assert broker.commits == [{TP: 0}]
    assert decode_finished(0, broker.metadata[0][TP]) == ((1, 3),)
    release_a.set()
    await r.server.until(lambda: partition.tracker.committable == 3)
    assert await commits.commit_now() is True
    assert broker.commits == [{TP: 0}, {TP: 3}]
    assert broker.metadata[1] == {TP: ""}
    assert commits.committed(TP) == 3


async def test_an_unchanged_offset_is_not_committed_again() -> None:
    """A second round with nothing new final sends no commit."""
    r, broker = rig(), MemoryBroker()
    partition = lane(r.flow)
    commits = commit_loop([partition], broker)
    partition.submit(record(0))
    await r.server.until(lambda: partition.tracker.committable == 1)
    await commits.commit_now()
    await commits.commit_now()
    assert broker.commits == [{TP: 1}]


async def test_the_periodic_loop_commits_what_becomes_final() -> None:
    """`run()` commits every interval until stopped: each newly final prefix, once."""
    r, broker = rig(), MemoryBroker()
    partition = lane(r.flow)
    commits = commit_loop([partition], broker, interval=0.005)
    stop = asyncio.Event()
    loop_task = asyncio.create_task(commits.run(stop))
    partition.submit(record(0, "A", 0))
    await broker.until(lambda: {TP: 1} in broker.commits)
    partition.submit(record(1, "A", 1))
    await broker.until(lambda: {TP: 2} in broker.commits)
    stop.set()
    await asyncio.wait_for(loop_task, 5)
    assert broker.commits == [{TP: 1}, {TP: 2}]
