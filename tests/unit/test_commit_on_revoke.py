"""On revoke, the revoked lanes close; only their final offsets are committed, then forgotten."""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition

from unit.doubles import TOPIC, WITHIN, MemoryBroker, commit_loop, lane, record, rig

P0, P1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


async def test_revoke_commits_the_revoked_final_prefix_and_nothing_in_flight() -> None:
    """Offset 0 is final, offset 1 is in flight past the grace: the commit is 1, for P0 only."""
    r, broker = rig(), MemoryBroker()
    r.server.hold("STUCK")
    revoked, kept = lane(r.flow, 0), lane(r.flow, 1)
    commits = commit_loop([revoked, kept], broker)
    revoked.submit(record(0, "DONE"))
    revoked.submit(record(1, "STUCK", partition=0))
    kept.submit(record(0, "OTHER", partition=1))
    await r.server.until(lambda: len(r.server.posted) == 3)
    await r.server.until(lambda: kept.tracker.committable == 1)
    assert await commits.revoke([revoked], grace=0.01) is True
    assert broker.commits == [{P0: 1}]
    assert revoked.closing.is_set()
    assert revoked.buffered == 1
    assert commits.committed(P0) is None


async def test_revoke_stops_starting_buffered_records() -> None:
    """Records queued behind one in flight are not started once their partition is revoked."""
    r, broker = rig(), MemoryBroker()
    release = r.server.hold("A")
    revoked = lane(r.flow)
    commits = commit_loop([revoked], broker)
    for offset in range(3):
        revoked.submit(record(offset, "A", offset))
    await r.server.until(lambda: len(r.server.posted) == 1)
    revoking = asyncio.create_task(commits.revoke([revoked], grace=WITHIN))
    await asyncio.wait_for(revoked.closing.wait(), WITHIN)
    release.set()
    assert await asyncio.wait_for(revoking, WITHIN) is True
    assert r.server.notes("A") == ["seq=0"]
    assert broker.commits == [{P0: 1}]
