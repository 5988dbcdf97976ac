"""Dry run signs and logs every record to a final outcome and never commits anything."""

from __future__ import annotations

import asyncio

from consumer.service import CommitPolicy, Final
from unit.doubles import MemoryBroker, commit_loop, lane, raw_record, record, rig, run


async def test_dry_run_sends_nothing_and_ends_each_record_with_a_dry_run_outcome() -> None:
    """Valid: `DRY_RUN`; invalid: `DRY_RUN_DEAD_LETTER`; nothing is sent or written."""
    r = rig(dry_run=True)
    assert await run(r.flow, record(0)) is Final.DRY_RUN
    assert await run(r.flow, raw_record(1, b"k", b"{not json")) is Final.DRY_RUN_DEAD_LETTER
    assert r.server.posted == []
    assert r.producer.sent == []
    outcomes = r.metrics.outcomes
    assert outcomes.labels("dry_run").value == 1
    assert outcomes.labels("dry_run_dead_letter").value == 1


async def test_never_policy_commits_nothing_periodically_on_revoke_or_on_drain() -> None:
    """With final offsets to commit, the periodic, revoke and drain commits all send nothing."""
    r, broker = rig(dry_run=True), MemoryBroker()
    first, second = lane(r.flow, 0), lane(r.flow, 1)
    commits = commit_loop([first, second], broker, policy=CommitPolicy.NEVER, interval=0.001)
    first.submit(record(0))
    second.submit(record(0, partition=1))
    await r.server.until(lambda: first.tracker.committable == second.tracker.committable == 1)
    stop = asyncio.Event()
    periodic = asyncio.create_task(commits.run(stop))
    assert await commits.commit_now() is True
    assert await commits.revoke([first], grace=1.0) is True
    assert await commits.drain([second], grace=1.0) is True
    stop.set()
    await asyncio.wait_for(periodic, 5)
    assert broker.commits == []
