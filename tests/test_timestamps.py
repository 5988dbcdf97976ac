"""Protocol timestamps: written as UTC milliseconds with "Z", read as strict RFC 3339."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signing.errors import MalformedTimestampError, SigningInputError, VerificationError
from signing.timestamps import format_timestamp, now_timestamp, parse_timestamp

IST = timezone(timedelta(hours=5, minutes=30))

aware_datetimes = st.builds(
    lambda moment, minutes: moment.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1),
)


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 11, 28, 3, 0, 0, 123000, tzinfo=UTC), "2026-11-28T03:00:00.123Z"),
        (datetime(2026, 11, 28, 3, 0, 0, tzinfo=UTC), "2026-11-28T03:00:00.000Z"),
        (datetime(2026, 11, 28, 3, 0, 0, 999999, tzinfo=UTC), "2026-11-28T03:00:00.999Z"),
        (datetime(2026, 11, 28, 8, 30, 0, 1000, tzinfo=IST), "2026-11-28T03:00:00.001Z"),
        (datetime(2026, 1, 1, 0, 30, tzinfo=IST), "2025-12-31T19:00:00.000Z"),
        (datetime(999, 1, 2, tzinfo=UTC), "0999-01-02T00:00:00.000Z"),
    ],
)
def test_format_writes_utc_milliseconds_with_z(moment: datetime, text: str) -> None:
    """An aware datetime is written in UTC with exactly three truncated fraction digits and Z."""
    assert format_timestamp(moment) == text


def test_format_refuses_a_naive_datetime() -> None:
    """A naive datetime names no instant, so formatting it raises SigningInputError."""
    with pytest.raises(SigningInputError, match="naive"):
        format_timestamp(datetime(2026, 11, 28, 3))


def test_now_timestamp_reads_the_given_clock() -> None:
    """now_timestamp formats the clock's reading, truncated to milliseconds."""
    signed_at = datetime(2026, 11, 28, 3, tzinfo=UTC).timestamp()

    assert now_timestamp(lambda: signed_at + 0.1239) == "2026-11-28T03:00:00.123Z"


def test_now_timestamp_defaults_to_the_wall_clock() -> None:
    """Without a clock, now_timestamp names an instant close to the system time."""
    before = datetime.now(UTC)
    text = now_timestamp()
    after = datetime.now(UTC)

    assert before - timedelta(milliseconds=1) <= parse_timestamp(text) <= after


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2026-11-28T03:00:00.123Z", datetime(2026, 11, 28, 3, 0, 0, 123000, tzinfo=UTC)),
        ("2026-11-28T03:00:00Z", datetime(2026, 11, 28, 3, tzinfo=UTC)),
        ("2026-11-28T03:00:00.5Z", datetime(2026, 11, 28, 3, 0, 0, 500000, tzinfo=UTC)),
        ("2026-11-28T08:30:00+05:30", datetime(2026, 11, 28, 3, tzinfo=UTC)),
        ("2026-11-27T23:00:00-04:00", datetime(2026, 11, 28, 3, tzinfo=UTC)),
        ("2026-11-28T03:00:00-00:00", datetime(2026, 11, 28, 3, tzinfo=UTC)),
        ("2026-11-28T03:00:00.123456789Z", datetime(2026, 11, 28, 3, 0, 0, 123456, tzinfo=UTC)),
        ("2028-02-29T23:59:59.999+23:59", datetime(2028, 2, 29, 0, 0, 59, 999000, tzinfo=UTC)),
    ],
)
def test_parse_reads_rfc3339_into_utc(text: str, instant: datetime) -> None:
    """RFC 3339 with Z or a numeric offset and any fraction is read as an aware UTC datetime."""
    parsed = parse_timestamp(text)

    assert parsed == instant
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2026-11-28",
        "2026-11-28T03:00:00",
        "2026-11-28T03:00:00.123",
        "2026-11-28 03:00:00Z",
        "2026-11-28t03:00:00Z",
        "2026-11-28T03:00:00z",
        " 2026-11-28T03:00:00Z",
        "2026-11-28T03:00:00Z ",
        "2026-11-28T03:00:00Z\n",
        "2026-11-28T03:00Z",
        "2026-11-28T03:00:00.Z",
        "2026-11-28T03:00:00,123Z",
        "2026-11-28T03:00:00+0530",
        "2026-11-28T03:00:00+05",
        "2026-11-28T03:00:00+24:00",
        "2026-11-28T03:00:00+05:60",
        "2026-11-28T03:00:00Z+00:00",
        "20261128T030000Z",
        "2026-W48-6T03:00:00Z",
        "+2026-11-28T03:00:00Z",
        "2026-13-28T03:00:00Z",
        "2026-02-29T03:00:00Z",
        "2026-11-31T03:00:00Z",
        "2026-11-28T24:00:00Z",
        "2026-11-28T03:60:00Z",
        "2026-12-31T23:59:60Z",
        "0000-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "2026-11-28T03:00:00.\uff11\uff12\uff13Z",  # fullwidth digits
        "\u0662\u0660\u0662\u0666-11-28T03:00:00Z",  # Arabic-Indic digits
        "1764298800",
    ],
)
def test_parse_rejects_anything_else(text: str) -> None:
    """Other spellings, impossible dates and times, whitespace and non-ASCII digits are refused."""
    with pytest.raises(MalformedTimestampError, match="timestamp"):
        parse_timestamp(text)


def test_malformed_timestamp_is_a_value_error_and_a_verification_error() -> None:
    """MalformedTimestampError can be caught as ValueError or as VerificationError."""
    with pytest.raises(MalformedTimestampError) as caught:
        parse_timestamp("yesterday")

    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, VerificationError)
    assert caught.value.code == "malformed_timestamp"


def test_parse_error_echoes_only_a_bounded_prefix() -> None:
    """A huge malformed header is not copied whole into the error message."""
    with pytest.raises(MalformedTimestampError) as caught:
        parse_timestamp("x" * 10_000)

    assert len(str(caught.value)) < 200


@given(aware_datetimes)
def test_format_then_parse_gives_the_instant_truncated_to_milliseconds(moment: datetime) -> None:
    """Reading a written timestamp gives the same instant, less its sub-millisecond part."""
    truncated = moment - timedelta(microseconds=moment.microsecond % 1000)

    assert parse_timestamp(format_timestamp(moment)) == truncated


@given(aware_datetimes)
def test_written_timestamps_are_a_fixed_point(moment: datetime) -> None:
    """A written timestamp, read and written again, is the same text."""
    text = format_timestamp(moment)

    assert format_timestamp(parse_timestamp(text)) == text
    assert len(text) == len("2026-11-28T03:00:00.123Z")
