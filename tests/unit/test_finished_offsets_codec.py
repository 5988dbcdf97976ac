"""The commit metadata's codec: exact round trips, bounded size, and garbage decodes to nothing."""

from __future__ import annotations

import pytest

from consumer.service import METADATA_LIMIT, decode_finished, encode_finished, runs


def test_runs_are_maximal_half_open_ranges() -> None:
    """Offsets 5, 6, 7, 9 and 12 are the runs 5-8, 9-10 and 12-13."""
    assert runs([9, 5, 7, 6, 12, 6]) == [(5, 8), (9, 10), (12, 13)]


@pytest.mark.parametrize(
    "ranges",
    [[(101, 102)], [(101, 1101)], [(150, 151), (200, 260), (10_000_000, 10_000_001)]],
)
def test_a_round_trip_gives_the_same_ranges(ranges: list[tuple[int, int]]) -> None:
    """What is encoded for a commit at offset 100 decodes to the same ranges."""
    metadata = encode_finished(100, ranges)
    assert metadata.startswith("sr1:100:")
    assert decode_finished(100, metadata) == tuple(ranges)


def test_nothing_above_encodes_to_empty_metadata() -> None:
    """No final offset above the commit: a plain commit, empty metadata."""
    assert encode_finished(7, []) == ""


def test_a_thousand_scattered_runs_fit_the_broker_default() -> None:
    """Every other offset final (the worst case) over 2,000 offsets stays under 4096 bytes."""
    ranges = [(1_000_000 + 2 * i + 1, 1_000_000 + 2 * i + 2) for i in range(1000)]
    metadata = encode_finished(1_000_000, ranges)
    assert len(metadata) <= METADATA_LIMIT
    assert decode_finished(1_000_000, metadata) == tuple(ranges)


def test_over_the_limit_the_lowest_runs_that_fit_are_kept() -> None:
    """Too many runs for the limit: a prefix of them, never more bytes than the limit."""
    ranges = [(2 * i + 1, 2 * i + 2) for i in range(10_000)]
    metadata = encode_finished(0, ranges, limit=200)
    kept = decode_finished(0, metadata)
    assert len(metadata) <= 200
    assert 0 < len(kept) < len(ranges)
    assert list(kept) == ranges[: len(kept)]


def test_a_limit_below_the_prefix_gives_a_plain_commit() -> None:
    """With no room even for the prefix (limit 0: the broker refused metadata), no metadata."""
    assert encode_finished(100, [(101, 102)], limit=0) == ""
    assert encode_finished(100, [(101, 102)], limit=9) == ""


def test_ranges_not_above_the_base_are_refused() -> None:
    """Encoding never claims the committed offset itself, or an unordered range, as final."""
    with pytest.raises(ValueError, match="not above"):
        encode_finished(100, [(100, 101)])
    with pytest.raises(ValueError, match="not above"):
        encode_finished(100, [(105, 106), (103, 104)])


@pytest.mark.parametrize(
    "metadata",
    [
        None,
        "",
        "some other tool's note",
        "sr0:100:AQE",
        "sr1:99:AQE",  # committed at another offset
        "sr1:100:",
        "sr1:100",
        "sr1:x:AQE",
        "sr1:100:AQ",  # an odd number of varints
        "sr1:100:AAE",  # a gap of 0: the committed offset itself
        "sr1:100:AQA",  # a run of length 0
        "sr1:100:gA",  # a truncated varint
        "sr1:100:!!!!",  # not base64
        "sr1:100:" + "_" * 20,  # an endless varint
        "sr1:100:" + "AQE" * 2000,  # longer than any metadata the relay writes
    ],
)
def test_metadata_that_does_not_parse_exactly_skips_nothing(metadata: str | None) -> None:
    """Foreign, older, stale or corrupt metadata decodes to no ranges: never skip on doubt."""
    assert decode_finished(100, metadata) == ()
