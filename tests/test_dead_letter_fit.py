"""Fitting a dead letter to a size limit, header normalization, and error classification."""

import time

import pytest
from aiokafka.errors import (
    InvalidTopicError,
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    ProducerClosed,
    RecordTooLargeError,
    RequestTimedOutError,
    TopicAuthorizationFailedError,
    UnknownError,
)
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from hypothesis import given
from hypothesis import strategies as st

from consumer.adapters import (
    DLQ_MIN_MESSAGE_BYTES,
    DeadLetter,
    DeadLetterWriter,
    build_dead_letter_producer,
    dlq_headers,
    fit_dead_letter,
    is_retriable_write_error,
    minimal_dead_letter,
    record_size,
)
from consumer.config import RetrySettings
from consumer.service import RetryPolicy

MARKS = {"dlq.truncated", "dlq.original_size"}

maybe_bytes = st.one_of(st.none(), st.binary(max_size=300))
header_lists = st.lists(st.tuples(st.text(max_size=20), st.binary(max_size=300)), max_size=30)


def _ours(signal_id: str | None = None) -> list[tuple[str, bytes]]:
    now = time.time()
    letter = DeadLetter("too_large", "big", 0, now, now, signal_id=signal_id)
    return dlq_headers([], letter, topic="src", partition=0, offset=7)


@given(maybe_bytes, maybe_bytes, header_lists)
def test_record_size_is_the_clients_estimate(
    key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
) -> None:
    """The writer fits to exactly the number the producer checks `max_request_size` against."""
    expected = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, headers)
    assert record_size(key, value, headers) == expected


@given(
    key_size=st.one_of(st.none(), st.integers(0, 50_000)),
    value_size=st.one_of(st.none(), st.integers(0, 200_000)),
    header_count=st.integers(0, 400),
    header_size=st.integers(0, 2_000),
    limit=st.integers(DLQ_MIN_MESSAGE_BYTES, 64 * 1024),
)
def test_a_fitted_letter_always_fits_and_keeps_what_matters(
    key_size: int | None, value_size: int | None, header_count: int, header_size: int, limit: int
) -> None:
    """Within the limit; every `dlq.*` header kept; key, value, original headers are prefixes."""
    key = None if key_size is None else b"k" * key_size
    value = None if value_size is None else bytes(i % 251 for i in range(value_size))
    original = [(f"h{i}", b"x" * header_size) for i in range(header_count)]
    ours = _ours()
    headers = original + ours

    letter = fit_dead_letter(key, value, headers, limit)

    assert letter.size <= limit
    assert record_size(letter.key, letter.value, letter.headers) == letter.size
    fits = record_size(key, value, headers) <= limit
    assert letter.truncated is not fits
    got = dict(letter.headers)
    if fits:
        sent = b"" if key is None and value is None else value  # the client needs one
        assert (letter.key, letter.value, letter.headers) == (key, sent, headers)
        assert not MARKS & set(got)
        return
    assert [h for h in letter.headers if h[0].startswith("dlq.") and h[0] not in MARKS] == ours
    assert got["dlq.truncated"] == b"true"
    assert got["dlq.original_size"] == str(value_size or 0).encode()
    assert (key or b"").startswith(letter.key or b"")
    assert (value or b"").startswith(letter.value or b"")
    kept = [h for h in letter.headers if not h[0].startswith("dlq.")]
    assert all(h in original for h in kept)


def test_an_absurd_key_is_cut_to_a_quarter() -> None:
    """A 5 MB key does not crowd out the letter: it keeps at most a quarter of the room."""
    letter = fit_dead_letter(b"K" * 5_000_000, b"v" * 10, _ours(), 1024 * 1024)
    assert letter.truncated
    assert letter.key is not None
    assert 0 < len(letter.key) <= 1024 * 1024 // 4
    assert letter.value == b"v" * 10
    assert letter.size <= 1024 * 1024


def test_oversized_dlq_headers_are_clipped_not_dropped() -> None:
    """Our own headers are authoritative: clipped to 1 KiB each when the limit is tiny."""
    ours = _ours(signal_id="s" * 20_000)
    letter = fit_dead_letter(b"k", b"v" * 20_000, ours, DLQ_MIN_MESSAGE_BYTES)
    got = dict(letter.headers)
    assert letter.size <= DLQ_MIN_MESSAGE_BYTES
    assert {k for k, _ in ours} <= set(got)
    assert len(got["dlq.signal_id"]) == 1024
    assert got["dlq.original_size"] == b"20000"


def test_the_minimal_letter_keeps_only_ours() -> None:
    """The fallback for a broker with a smaller limit: no value, no original headers."""
    letter = minimal_dead_letter(b"k" * 5000, b"v" * 100, [("trace", b"t"), *_ours()])
    got = dict(letter.headers)
    assert letter.value == b""
    assert letter.key == b"k" * 1024
    assert "trace" not in got
    assert got["dlq.truncated"] == b"true"
    assert got["dlq.original_size"] == b"100"
    assert letter.size < DLQ_MIN_MESSAGE_BYTES


def test_header_values_are_bytes_and_keys_str() -> None:
    """Null original header values become b"", stray bytes keys become str."""
    raw: list[tuple[str, bytes | None]] = [("a", None), (b"b", b"1")]  # type: ignore[list-item]
    now = time.time()
    headers = dlq_headers(
        raw, DeadLetter("invalid_json", "x", 0, now, now), topic="t", partition=0, offset=1
    )
    assert headers[:2] == [("a", b""), ("b", b"1")]
    assert all(isinstance(k, str) and isinstance(v, bytes) for k, v in headers)
    letter = fit_dead_letter(None, None, raw)
    assert letter.headers == [("a", b""), ("b", b"1")]
    assert letter.value == b""  # the client needs a key or a value


def test_stale_marks_are_replaced() -> None:
    """A letter that died before is re-marked once, with this death's original size."""
    headers = [("dlq.truncated", b"true"), ("dlq.original_size", b"1"), *_ours()]
    letter = fit_dead_letter(None, b"v" * 20_000, headers, DLQ_MIN_MESSAGE_BYTES)
    names = [k for k, _ in letter.headers]
    assert names.count("dlq.truncated") == names.count("dlq.original_size") == 1
    assert dict(letter.headers)["dlq.original_size"] == b"20000"


@pytest.mark.parametrize(
    ("error", "retriable"),
    [
        (KafkaTimeoutError(), True),
        (RequestTimedOutError(), True),
        (NotLeaderForPartitionError(), True),
        (KafkaConnectionError(), True),
        (MessageSizeTooLargeError(), False),
        (RecordTooLargeError(), False),
        (InvalidTopicError(), False),
        (TopicAuthorizationFailedError(), False),
        (ProducerClosed(), False),
        (UnknownError(), False),
        (ValueError(), False),
    ],
)
def test_write_errors_are_classified(error: BaseException, retriable: bool) -> None:
    """Transient broker trouble is retried; size, topic, authorization, closed are not."""
    assert is_retriable_write_error(error) is retriable


async def test_the_producer_matches_the_writers_limit() -> None:
    """`max_request_size` leaves room above the writer's limit; acks=all always."""
    producer = build_dead_letter_producer(
        "127.0.0.1:9", {"acks": 0}, max_message_bytes=2 * 1024 * 1024, client_id="dlq-test"
    )
    try:
        assert producer._max_request_size >= 2 * 1024 * 1024
        assert producer._max_request_size <= 2 * 1024 * 1024 + 64 * 1024
        assert producer._sender._acks == -1  # "all", whatever kafka_options said
    finally:
        await producer.stop()
    with pytest.raises(ValueError, match="at least"):
        build_dead_letter_producer("127.0.0.1:9", {}, max_message_bytes=100)


async def test_a_writer_rejects_a_limit_below_the_minimum() -> None:
    """Below 8 KiB the `dlq.*` headers may not fit: refused at construction."""
    producer = build_dead_letter_producer("127.0.0.1:9", {})
    try:
        with pytest.raises(ValueError, match="at least"):
            DeadLetterWriter(
                producer, "t.dlq", RetryPolicy(RetrySettings()), max_message_bytes=1000
            )
    finally:
        await producer.stop()
