"""parse_candidate: each kind of bad record bytes maps to its own error type and DLQ reason."""

from __future__ import annotations

from decimal import Decimal

import pytest

from schemas.errors import (
    DuplicateKeyError,
    EmptyRecordError,
    NonFiniteNumberError,
    NotAnObjectError,
    NotJsonError,
    NotUtf8Error,
    RecordError,
    RecordTooLargeError,
    SchemaViolationError,
)
from schemas.record import parse_candidate

_VALID = b'{"instrument":"EURUSD","side":"buy","entry_price":1.0852,"confidence":0.5}'


def test_a_valid_record_parses() -> None:
    """A valid record becomes a SignalCandidate with exact decimal values."""
    candidate = parse_candidate(_VALID)
    assert candidate.instrument == "EURUSD"
    assert candidate.side == "buy"
    assert candidate.entry_price == Decimal("1.0852")
    assert candidate.confidence == Decimal("0.5")


@pytest.mark.parametrize(
    "raw",
    [
        b' \r\n\t{ "instrument" : "EURUSD",\n "side":"buy" ,"entry_price" :1, "confidence":1 }\n',
        b" " + _VALID,
        _VALID + b"\n",
        b"\t" + _VALID + b"\r\n",
    ],
)
def test_json_whitespace_around_and_inside_is_fine(raw: bytes) -> None:
    """JSON whitespace (space, tab, CR, LF) anywhere between tokens is accepted."""
    assert parse_candidate(raw).instrument == "EURUSD"


@pytest.mark.parametrize(
    ("raw", "error", "reason"),
    [
        (None, EmptyRecordError, "invalid_json"),
        (b"", EmptyRecordError, "invalid_json"),
        (b"\xff{}", NotUtf8Error, "invalid_json"),
        (b'{"note":"caf\xe9"}', NotUtf8Error, "invalid_json"),
        (b'{"a":"\xed\xa0\x80"}', NotUtf8Error, "invalid_json"),
        (b"\xef\xbb\xbf" + _VALID, NotJsonError, "invalid_json"),
        (b"   ", NotJsonError, "invalid_json"),
        (b"{", NotJsonError, "invalid_json"),
        (b"{'instrument': 'EURUSD'}", NotJsonError, "invalid_json"),
        (b'{"a":1,}', NotJsonError, "invalid_json"),
        (b'{"a":1} {"b":2}', NotJsonError, "invalid_json"),
        (_VALID + b" x", NotJsonError, "invalid_json"),
        (b'{"a":01}', NotJsonError, "invalid_json"),
        (b'{"a":.5}', NotJsonError, "invalid_json"),
        (b'{"a":"tab\there"}', NotJsonError, "invalid_json"),
        (b'{"a":1e99999999999999999999999}', NotJsonError, "invalid_json"),
        (b"[" * 100_000 + b"]" * 100_000, NotJsonError, "invalid_json"),
        (b'{"a":1,"a":1}', DuplicateKeyError, "invalid_json"),
        (b'{"a":{"b":1,"b":2}}', DuplicateKeyError, "invalid_json"),
        (b'{"a":[{"c":[{"d":1,"d":1}]}]}', DuplicateKeyError, "invalid_json"),
        (b'{"a":NaN}', NonFiniteNumberError, "invalid_json"),
        (b'{"a":Infinity}', NonFiniteNumberError, "invalid_json"),
        (b'{"a":[-Infinity]}', NonFiniteNumberError, "invalid_json"),
        (b"[]", NotAnObjectError, "invalid_schema"),
        (b'"text"', NotAnObjectError, "invalid_schema"),
        (b"1.5", NotAnObjectError, "invalid_schema"),
        (b"true", NotAnObjectError, "invalid_schema"),
        (b"null", NotAnObjectError, "invalid_schema"),
        (b"{}", SchemaViolationError, "invalid_schema"),
        (_VALID[:-1] + b',"foo":1}', SchemaViolationError, "invalid_schema"),
    ],
)
def test_bad_bytes_map_to_their_error(
    raw: bytes | None, error: type[RecordError], reason: str
) -> None:
    """Each bad value raises its own RecordError subclass, whose class names the DLQ reason."""
    with pytest.raises(error) as caught:
        parse_candidate(raw)
    assert type(caught.value) is error
    assert caught.value.dlq_reason == reason


def test_json_level_errors_share_a_base() -> None:
    """Duplicate keys and non-finite literals are kinds of NotJsonError."""
    assert issubclass(DuplicateKeyError, NotJsonError)
    assert issubclass(NonFiniteNumberError, NotJsonError)


def test_size_limit_boundary() -> None:
    """A value of exactly max_size bytes is parsed; one byte more is too large."""
    assert parse_candidate(_VALID, max_size=len(_VALID)).instrument == "EURUSD"
    with pytest.raises(RecordTooLargeError) as caught:
        parse_candidate(_VALID, max_size=len(_VALID) - 1)
    assert caught.value.dlq_reason == "too_large"
    assert str(caught.value) == (
        f"record value is {len(_VALID)} bytes, over the {len(_VALID) - 1}-byte limit"
    )


def test_size_is_checked_before_decoding() -> None:
    """An oversized value is too large even when it is not JSON either."""
    with pytest.raises(RecordTooLargeError):
        parse_candidate(b"\xff" * 11, max_size=10)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (None, "record has no value"),
        (b"", "record value is empty"),
        (b"ab\xff", "record value is not UTF-8: invalid start byte at byte 2"),
        (b'{"a":1,"a":2}', "record value has a duplicate key: 'a'"),
        (b'{"a":NaN}', "record value uses NaN, which is not a JSON number"),
        (b"[1]", "record must be a JSON object, not an array"),
        (b"null", "record must be a JSON object, not null"),
        (b"{", "record value is not JSON: Expecting property name enclosed in double quotes"),
    ],
)
def test_messages_say_what_is_wrong(raw: bytes | None, message: str) -> None:
    """Each error's message is short and names the problem."""
    with pytest.raises(RecordError) as caught:
        parse_candidate(raw)
    assert str(caught.value).startswith(message)
    assert caught.value.message == str(caught.value)


def test_schema_violation_lists_every_problem_in_one_message() -> None:
    """A schema violation carries every problem, and its message counts and joins them."""
    raw = b'{"instrument":"EURUSD","side":"long","entry_price":0,"confidence":0.5,"foo":1}'
    with pytest.raises(SchemaViolationError) as caught:
        parse_candidate(raw)
    assert caught.value.problems == (
        "side: must be 'buy' or 'sell'",
        "entry_price: must be > 0",
        "foo: unknown field",
    )
    assert str(caught.value) == (
        "3 problems: side: must be 'buy' or 'sell'; entry_price: must be > 0; foo: unknown field"
    )


def test_a_single_problem_is_counted_in_the_singular() -> None:
    """One problem reads "1 problem: ..."."""
    with pytest.raises(SchemaViolationError) as caught:
        parse_candidate(_VALID[:-1] + b',"foo":1}')
    assert str(caught.value) == "1 problem: foo: unknown field"


def test_schema_violation_chains_the_pydantic_error() -> None:
    """The pydantic ValidationError stays available as the cause."""
    with pytest.raises(SchemaViolationError) as caught:
        parse_candidate(b"{}")
    assert type(caught.value.__cause__).__name__ == "ValidationError"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"' + b"k" * 100_000 + b'":1}',
        b'{"' + b"k" * 100_000 + b'":1,"' + b"k" * 100_000 + b'":2}',
        b"{" + b",".join(b'"unknown_%d":1' % i for i in range(5000)) + b"}",
        b'{"instrument":"' + b"X" * 100_000 + b'","side":"buy","entry_price":1,"confidence":1}',
        b'{"' + "\u00e9".encode() * 50_000 + b'":1}',
    ],
)
def test_messages_are_bounded(raw: bytes) -> None:
    """No message exceeds 1 KiB of UTF-8, however large the input; no huge input is echoed."""
    with pytest.raises(RecordError) as caught:
        parse_candidate(raw)
    assert len(str(caught.value).encode("utf-8")) <= 1024
    problems = getattr(caught.value, "problems", ())
    assert all(len(problem.encode("utf-8")) <= 256 for problem in problems)
    assert "k" * 65 not in str(caught.value)
    assert "X" * 65 not in str(caught.value)


def test_schema_violation_keeps_every_problem_even_when_the_message_is_cut() -> None:
    """The message is bounded, but `problems` still lists every problem."""
    raw = b"{" + b",".join(b'"unknown_%d":1' % i for i in range(300)) + b"}"
    with pytest.raises(SchemaViolationError) as caught:
        parse_candidate(raw)
    assert len(caught.value.problems) == 304  # four missing required fields, 300 unknown ones
    assert str(caught.value).startswith("304 problems: instrument: required;")
    assert str(caught.value).endswith("...")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_VALID[:-1] + b',"\\ud800":1}', "1 problem: record: must be valid Unicode text"),
        (b'{"\\udc00":1,"\\udc00":2}', "record value has a duplicate key: '\\udc00'"),
    ],
)
def test_a_lone_surrogate_in_a_key_does_not_break_the_message(raw: bytes, message: str) -> None:
    """A JSON escape for a lone surrogate in a key still gives a UTF-8-encodable message."""
    with pytest.raises(RecordError) as caught:
        parse_candidate(raw)
    assert str(caught.value).encode("utf-8").decode("utf-8").startswith(message)
