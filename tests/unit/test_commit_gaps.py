"""Offset gaps never hold a commit: between records, and after the last one (a commit marker)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.service import ContiguousTracker


def test_a_trailing_commit_marker_is_passed_once_every_record_is_final() -> None:
    """Records 0-9, then a transaction's marker at 10: the commit reaches the log end, 11."""
    tracker = ContiguousTracker()
    tracker.advance_to(0)
    for offset in range(10):
        tracker.add(offset)
    tracker.advance_to(11)
    assert tracker.committable is None
    for offset in range(10):
        tracker.finish(offset)
    assert tracker.committable == 10
    tracker.advance_to(11)
    assert tracker.committable == 11
    assert tracker.commit_point() == (11, "")


def test_the_position_waits_while_any_record_is_unfinished() -> None:
    """A final record above an unfinished one moves nothing, nor does the position."""
    tracker = ContiguousTracker()
    tracker.advance_to(0)
    tracker.add(0)
    tracker.add(3)
    tracker.finish(3)
    tracker.advance_to(6)
    assert tracker.committable is None
    tracker.finish(0)
    assert tracker.committable == 4
    tracker.advance_to(6)
    assert tracker.committable == 6


def test_the_first_position_is_only_noted() -> None:
    """Where the group already stands is not committed again; a gap past it is."""
    tracker = ContiguousTracker()
    tracker.advance_to(10)
    tracker.advance_to(10)
    assert tracker.committable is None
    assert tracker.commit_point() is None
    tracker.advance_to(11)
    assert tracker.committable == 11


def test_a_position_behind_the_commit_never_moves_it_back() -> None:
    """A seek back (backpressure, the fetch guard) leaves the committable offset where it is."""
    tracker = ContiguousTracker()
    tracker.add(5)
    tracker.finish(5)
    tracker.advance_to(9)
    tracker.advance_to(6)
    tracker.advance_to(None)
    assert tracker.committable == 9


@st.composite
def _logs(draw: st.DrawFn) -> tuple[int, list[int], int]:
    """(start, record offsets with gaps between them, log end past a trailing gap)."""
    start = draw(st.integers(0, 10_000))
    gaps = draw(st.lists(st.integers(0, 4), max_size=40))
    offsets: list[int] = []
    at = start
    for gap in gaps:
        at += gap
        offsets.append(at)
        at += 1
    return start, offsets, at + draw(st.integers(0, 3))


@settings(max_examples=300, deadline=None)
@given(log=_logs(), data=st.data())
def test_committable_never_passes_an_unfinished_offset_and_reaches_the_end(
    log: tuple[int, list[int], int], data: st.DataObject
) -> None:
    """Fetches, finishes and positions in any order: never past a record not final, end reached."""
    start, offsets, end = log
    tracker = ContiguousTracker()
    fetched = 0  # records of `offsets` tracked so far
    position = start
    unfinished: list[int] = []
    committed: list[int] = []
    tracker.advance_to(position)  # the fetch loop's first round, before any record

    def check() -> None:
        found = tracker.committable
        if found is None:
            return
        unfetched = offsets[fetched] if fetched < len(offsets) else end
        assert found <= min([unfetched, *unfinished]), "committable passed an unfinished record"
        assert found <= position
        assert not committed or found >= committed[-1], "committable moved back"
        committed.append(found)

    while fetched < len(offsets) or unfinished:
        step = data.draw(st.sampled_from(["fetch", "finish", "poll"]))
        if step == "fetch" and fetched < len(offsets):
            count = data.draw(st.integers(1, len(offsets) - fetched))
            for offset in offsets[fetched : fetched + count]:
                tracker.add(offset)
                unfinished.append(offset)
            fetched += count
            # aiokafka's position lands anywhere in the gap before the next record.
            following = offsets[fetched] if fetched < len(offsets) else end
            position = data.draw(st.integers(offsets[fetched - 1] + 1, following))
            tracker.advance_to(position)
        elif step == "finish" and unfinished:
            offset = data.draw(st.sampled_from(unfinished))
            unfinished.remove(offset)
            tracker.finish(offset)
        else:
            tracker.advance_to(position)
        check()
    position = end  # the last fetch returns only the trailing control batches
    tracker.advance_to(position)
    check()
    assert tracker.committable == (end if end > start else None)
    assert tracker.unfinished == 0
