"""The commit rule: one past the highest offset below which every record is final."""

from hypothesis import given
from hypothesis import strategies as st

from consumer.service import ContiguousTracker


def test_nothing_committable_before_the_first_record_is_final() -> None:
    """Later records finishing first do not make anything committable."""
    tracker = ContiguousTracker()
    for offset in (5, 6, 7):
        tracker.add(offset)
    tracker.finish(6)
    tracker.finish(7)
    assert tracker.committable is None
    tracker.finish(5)
    assert tracker.committable == 8
    assert tracker.unfinished == 0


def test_gaps_in_offsets_are_skipped() -> None:
    """Offsets need not be contiguous (compaction, markers): the commit follows what was seen."""
    tracker = ContiguousTracker()
    for offset in (10, 13, 20):
        tracker.add(offset)
    tracker.finish(10)
    assert tracker.committable == 11
    tracker.finish(20)
    assert tracker.committable == 11
    tracker.finish(13)
    assert tracker.committable == 21


def test_offsets_must_increase() -> None:
    """Adding an offset not above the last one is a bug and is refused."""
    tracker = ContiguousTracker()
    tracker.add(3)
    try:
        tracker.add(3)
    except ValueError:
        return
    raise AssertionError("a repeated offset was accepted")


@given(st.permutations(list(range(30))), st.integers(min_value=0, max_value=30))
def test_committable_is_the_final_prefix_for_any_finish_order(order: list[int], k: int) -> None:
    """After finishing any subset, committable = 1 + the end of the finished prefix."""
    tracker = ContiguousTracker()
    for offset in range(30):
        tracker.add(offset)
    finished = set(order[:k])
    for offset in order[:k]:
        tracker.finish(offset)
    prefix = 0
    while prefix in finished:
        prefix += 1
    assert tracker.committable == (prefix if prefix else None)
    assert tracker.unfinished == 30 - prefix
