"""A partition's next owner skips what the last one finished above its commit, and only that."""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition

from consumer.service import ContiguousTracker, decode_finished
from unit.doubles import TOPIC, MemoryBroker, commit_loop, lane, record, rig

TP = TopicPartition(TOPIC, 0)


def test_skipped_offsets_are_final_and_count_for_the_contiguous_rule() -> None:
    """Offsets 11-12 finished earlier: fetched again they are final at once; 10 still holds."""
    tracker, skipped = ContiguousTracker(), []
    tracker.resume([(11, 13)], on_skip=lambda: skipped.append(1))
    assert tracker.skip_finished(10) is False
    tracker.add(10)
    assert [tracker.skip_finished(o) for o in (11, 12, 13)] == [True, True, False]
    tracker.add(13)
    assert (tracker.committable, tracker.unfinished, len(skipped)) == (None, 4, 2)
    tracker.finish(10)
    assert (tracker.committable, tracker.unfinished) == (13, 1)


def test_runs_not_yet_fetched_are_carried_into_the_next_commit() -> None:
    """Known-final offsets above the fetch position stay in the metadata until they are seen."""
    tracker = ContiguousTracker()
    tracker.resume([(11, 13), (20, 25)])
    tracker.add(10)
    assert tracker.skip_finished(11) is True
    point = tracker.commit_point()
    assert point is not None
    assert point[0] == 10
    assert decode_finished(10, point[1]) == ((11, 13), (20, 25))


def test_a_resumed_run_at_the_committable_offset_is_carried_from_above_it() -> None:
    """Committed through 10, 11-12 final but not fetched yet: commit 11 and carry 12 only."""
    tracker = ContiguousTracker()
    tracker.resume([(11, 13)])
    tracker.add(10)
    tracker.finish(10)
    assert tracker.commit_point() == (11, "sr1:11:AQE")
    assert decode_finished(11, "sr1:11:AQE") == ((12, 13),)


def test_an_offset_passed_over_prunes_the_runs_below_it() -> None:
    """A compacted-away offset never arrives: runs below the next fetched offset are dropped."""
    tracker = ContiguousTracker()
    tracker.resume([(5, 6), (8, 9)])
    assert tracker.skip_finished(7) is False
    assert tracker.skip_finished(8) is True


async def test_the_next_owner_sends_only_what_was_unfinished() -> None:
    """Owner 1 delivers B's records while A is stuck and stops; owner 2 sends A's record only."""
    first, broker = rig(), MemoryBroker()
    first.server.hold("A")
    before = lane(first.flow)
    commits = commit_loop([before], broker)
    for offset, key in enumerate(["A", "B", "B", "B"]):
        before.submit(record(offset, key, offset))
    await first.server.until(lambda: len(first.server.notes("B")) == 3)
    assert await asyncio.wait_for(commits.drain([before], grace=0.2), 5) is True
    assert broker.commits[-1] == {TP: 0}

    second = rig()
    after = lane(second.flow)
    after.tracker.resume(decode_finished(0, broker.metadata[-1][TP]))
    for offset, key in enumerate(["A", "B", "B", "B"]):
        after.submit(record(offset, key, offset))
    await second.server.until(lambda: after.tracker.committable == 4)
    assert second.server.notes("A") == ["seq=0"]
    assert second.server.notes("B") == []
