"""Dead letters always fit the DLQ topic, and a permanent write error never wedges a partition.

Against the real broker: a 10 MB record is cut to the writer's limit and marked
`dlq.truncated`/`dlq.original_size` (docs/PROTOCOL.md §9.5); a small one lands byte for byte; a
size error gets one smaller try, then `DeadLetterError`; an invalid topic fails at once; a
broker that is gone is retried (with `on_stalled`) until the caller cancels.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Sequence

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from aiokafka.structs import ConsumerRecord, TopicPartition
from conftest import TopicFactory

from consumer.adapters import (
    DLQ_MAX_MESSAGE_BYTES,
    DeadLetter,
    DeadLetterError,
    DeadLetterWriter,
    build_dead_letter_producer,
    dlq_headers,
    record_size,
)
from consumer.config import RetrySettings
from consumer.devkit import tansu_broker
from consumer.service import RetryPolicy

TEN_MB = 10 * 1024 * 1024
POLICY = RetryPolicy(RetrySettings(base_seconds=0.05, max_seconds=0.2))
SOURCE = ("signals.candidates", 3, 4242)
MARKS = {"dlq.truncated", "dlq.original_size"}


def _headers(
    original: Sequence[tuple[str, bytes]] = (("trace-id", b"t-1"),),
) -> list[tuple[str, bytes]]:
    now = time.time()
    letter = DeadLetter("too_large", "record is 10485760 bytes", 0, now, now)
    topic, partition, offset = SOURCE
    return dlq_headers(original, letter, topic=topic, partition=partition, offset=offset)


def _pattern(size: int) -> bytes:
    return (bytes(range(256)) * (size // 256 + 1))[:size]


async def _read(bootstrap: str, topic: str, count: int) -> list[ConsumerRecord[bytes, bytes]]:
    """The first `count` records of partition 0, read from the earliest offset."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=16 * 1024 * 1024,
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        records: list[ConsumerRecord[bytes, bytes]] = []
        async with asyncio.timeout(30):
            while len(records) < count:
                batch = await consumer.getmany(tp, timeout_ms=500)
                records += batch.get(tp, [])
        return records
    finally:
        await consumer.stop()


@pytest.fixture
async def dlq_producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """The DLQ producer as the relay builds it, started."""
    producer = build_dead_letter_producer(kafka_bootstrap, {"security_protocol": "PLAINTEXT"})
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def test_a_ten_megabyte_record_is_cut_to_fit_and_marked(
    kafka_bootstrap: str, new_topic: TopicFactory, dlq_producer: AIOKafkaProducer
) -> None:
    """10 MiB in, at most 1 MiB out: a prefix of the value, the marks, the coordinates."""
    dlq = await new_topic(1)
    writer = DeadLetterWriter(dlq_producer, dlq, POLICY)
    value = _pattern(TEN_MB)
    headers = _headers()
    async with asyncio.timeout(30):
        written = await writer.write(key=b"BTCUSD", value=value, headers=headers)

    assert written.truncated
    assert written.size <= DLQ_MAX_MESSAGE_BYTES
    [record] = await _read(kafka_bootstrap, dlq, 1)
    got = dict(record.headers)
    assert got["dlq.truncated"] == b"true"
    assert got["dlq.original_size"] == b"10485760"
    assert got["dlq.source.topic"] == b"signals.candidates"
    assert got["dlq.source.partition"] == b"3"
    assert got["dlq.source.offset"] == b"4242"
    assert got["dlq.reason"] == b"too_large"
    assert got["trace-id"] == b"t-1"
    names = [name for name, _ in record.headers]
    at = names.index("dlq.source.offset")
    assert names[at + 1 : at + 3] == ["dlq.truncated", "dlq.original_size"]
    assert record.key == b"BTCUSD"
    assert record.value is not None
    assert value.startswith(record.value)
    assert DLQ_MAX_MESSAGE_BYTES - 64 * 1024 < len(record.value) < DLQ_MAX_MESSAGE_BYTES
    assert record_size(record.key, record.value, record.headers) <= DLQ_MAX_MESSAGE_BYTES


async def test_a_small_record_lands_unchanged(
    kafka_bootstrap: str, new_topic: TopicFactory, dlq_producer: AIOKafkaProducer
) -> None:
    """A letter that fits is the original key, value and headers, without truncation marks."""
    dlq = await new_topic(1)
    writer = DeadLetterWriter(dlq_producer, dlq, POLICY)
    headers = _headers()
    value = b'{"not": "a signal"}'
    async with asyncio.timeout(30):
        written = await writer.write(key=b"k-1", value=value, headers=headers)

    assert not written.truncated
    [record] = await _read(kafka_bootstrap, dlq, 1)
    assert record.key == b"k-1"
    assert record.value == value
    assert list(record.headers) == headers
    assert not {"dlq.truncated", "dlq.original_size"} & {name for name, _ in record.headers}


async def test_absurd_original_headers_are_dropped_but_ours_are_kept(
    kafka_bootstrap: str, new_topic: TopicFactory, dlq_producer: AIOKafkaProducer
) -> None:
    """10,000 original headers of 200 bytes: some go, every `dlq.*` header stays."""
    dlq = await new_topic(1)
    writer = DeadLetterWriter(dlq_producer, dlq, POLICY)
    original = [(f"h-{i:05d}", b"v" * 200) for i in range(10_000)]
    headers = _headers(original)
    ours = [(k, v) for k, v in headers if k.startswith("dlq.")]
    async with asyncio.timeout(30):
        await writer.write(key=None, value=b"{}", headers=headers)

    [record] = await _read(kafka_bootstrap, dlq, 1)
    assert record.value == b"{}"
    got = list(record.headers)
    kept = [h for h in got if not h[0].startswith("dlq.")]
    assert 0 < len(kept) < len(original)
    assert kept == original[: len(kept)]
    assert dict(got)["dlq.truncated"] == b"true"
    assert dict(got)["dlq.original_size"] == b"2"
    assert [h for h in got if h[0].startswith("dlq.") and h[0] not in MARKS] == ours
    assert record_size(record.key, record.value, got) <= DLQ_MAX_MESSAGE_BYTES


async def test_a_size_error_gets_one_minimal_retry(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """A producer limit below the writer's: the letter goes again without value or extras."""
    dlq = await new_topic(1)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", max_request_size=4096
    )
    await producer.start()
    stalls: list[int] = []
    try:
        writer = DeadLetterWriter(
            producer, dlq, POLICY, on_stalled=lambda attempt, _: stalls.append(attempt)
        )
        async with asyncio.timeout(30):
            written = await writer.write(key=b"k", value=_pattern(100_000), headers=_headers())
    finally:
        await producer.stop()

    assert written.truncated
    assert stalls == []
    [record] = await _read(kafka_bootstrap, dlq, 1)
    got = dict(record.headers)
    assert record.value == b""
    assert record.key == b"k"
    assert got["dlq.truncated"] == b"true"
    assert got["dlq.original_size"] == b"100000"
    assert got["dlq.source.offset"] == b"4242"
    assert "trace-id" not in got


async def test_a_size_error_that_persists_raises_instead_of_looping(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """Even the minimal letter is too large for the producer: `DeadLetterError`, promptly."""
    dlq = await new_topic(1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", max_request_size=200)
    await producer.start()
    stalls: list[int] = []
    try:
        writer = DeadLetterWriter(
            producer, dlq, POLICY, on_stalled=lambda attempt, _: stalls.append(attempt)
        )
        async with asyncio.timeout(10):
            with pytest.raises(DeadLetterError) as caught:
                await writer.write(key=b"k", value=_pattern(TEN_MB), headers=_headers())
    finally:
        await producer.stop()
    assert isinstance(caught.value.__cause__, MessageSizeTooLargeError)
    assert stalls == []


async def test_an_invalid_topic_name_raises_at_once(
    kafka_bootstrap: str, dlq_producer: AIOKafkaProducer
) -> None:
    """`bad topic!` can never be written: no retry loop, a `DeadLetterError` within a bound."""
    stalls: list[int] = []
    writer = DeadLetterWriter(
        dlq_producer, "bad topic!", POLICY, on_stalled=lambda attempt, _: stalls.append(attempt)
    )
    async with asyncio.timeout(10):
        with pytest.raises(DeadLetterError, match="invalid DLQ topic name"):
            await writer.write(key=b"k", value=b"v", headers=_headers())
    assert stalls == []


async def test_a_vanished_broker_is_retried_and_cancellation_propagates(
    new_topic: TopicFactory,
) -> None:
    """Broker gone: retriable, so `on_stalled` reports each attempt; cancelling ends the write."""
    stalled = asyncio.Event()
    stalls: list[tuple[int, BaseException]] = []

    def on_stalled(attempt: int, error: BaseException) -> None:
        stalls.append((attempt, error))
        if len(stalls) >= 2:
            stalled.set()

    with tansu_broker() as bootstrap:
        producer = build_dead_letter_producer(bootstrap, {}, request_timeout_ms=1000)
        await producer.start()
        writer = DeadLetterWriter(producer, "signals.dlq", POLICY, on_stalled=on_stalled)
        await writer.write(key=b"k", value=b"first", headers=_headers())
    # The broker process is stopped now; the producer still has its metadata.
    try:
        write = asyncio.create_task(writer.write(key=b"k", value=b"second", headers=_headers()))
        async with asyncio.timeout(30):
            await stalled.wait()
        assert not write.done()
        write.cancel()
        with pytest.raises(asyncio.CancelledError):
            await write
    finally:
        async with asyncio.timeout(15):
            await producer.stop()
    assert [attempt for attempt, _ in stalls[:2]] == [1, 2]
    assert all(isinstance(error, KafkaError) for _, error in stalls)
