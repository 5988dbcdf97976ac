"""Records the Kafka client cannot decode never stop the relay: DLQ `undecodable`, then commit."""

import asyncio
import struct
from typing import Any

from aiokafka import TopicPartition
from aiokafka.record.util import calc_crc32c
from conftest import RunningReceiver, TopicFactory, eventually_async
from raw_records import BAD_HEADER_KEY, produce_bad_header_key, raw_batch, read_back_error
from relay_harness import (
    encode,
    expected_signal_id,
    publish,
    relay_settings,
    running_relay,
    signal,
)

from consumer.adapters import Decoded, UndecodableRecord, decode_raw
from consumer.config import Settings
from consumer.tools import committed_offsets, ensure_topic, read_topic

KEY = b"EURUSD"
READABLE_HEADER_KEY = BAD_HEADER_KEY.decode("utf-8", "backslashreplace")


async def _wait_committed(bootstrap: str, settings: Settings, topic: str, end: int) -> None:
    async def all_committed() -> bool:
        offsets = await committed_offsets(bootstrap, settings.group_id, topic)
        return offsets.get(0) == end

    await eventually_async(all_committed, 30, f"offset {end} committed")


def _assert_undecodable_letter(
    letter: Any, topic: str, offset: int, value: bytes, key: bytes | None = KEY
) -> None:
    headers = dict(letter.headers)
    assert letter.key == key
    assert letter.value == value
    assert headers["dlq.reason"] == b"undecodable"
    assert headers["dlq.source.topic"] == topic.encode()
    assert headers["dlq.source.partition"] == b"0"
    assert headers["dlq.source.offset"] == str(offset).encode()
    assert headers["dlq.attempts"] == b"0"
    assert b"UTF-8" in headers["dlq.error"]
    assert headers[READABLE_HEADER_KEY] == b"x"


async def test_broker_keeps_a_non_utf8_header_key(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """The helper's record reaches the broker intact: aiokafka fails to decode it."""
    topic = await new_topic(1)
    offset = await produce_bad_header_key(kafka_bootstrap, topic, KEY, b"{}")
    error = await read_back_error(kafka_bootstrap, topic, 0, offset)
    assert isinstance(error, UnicodeDecodeError)


async def test_undecodable_record_between_valid_ones(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver
) -> None:
    """Valid A, undecodable B, valid C (one key): A then C delivered, B dead-lettered, all done."""
    topic = await new_topic(1)
    dlq = f"{topic}.dlq"
    await ensure_topic(kafka_bootstrap, dlq)
    value_a, value_b, value_c = (encode(signal("EURUSD", seq)) for seq in range(3))
    (a,) = await publish(kafka_bootstrap, topic, [(KEY, value_a)])
    offset_b = await produce_bad_header_key(kafka_bootstrap, topic, KEY, value_b)
    (c,) = await publish(kafka_bootstrap, topic, [(KEY, value_c)])
    assert a.offset < offset_b < c.offset
    settings = relay_settings(kafka_bootstrap, topic, receiver.url, KAFKA_DLQ_TOPIC=dlq)
    ledger = receiver.app.ledger

    async with running_relay(settings):
        assert await asyncio.to_thread(ledger.wait_until, lambda led: led.accepted_count >= 2, 60)
        await _wait_committed(kafka_bootstrap, settings, topic, c.offset + 1)

    assert [s.signal_id for s in ledger.accepted] == [
        expected_signal_id(value_a),
        expected_signal_id(value_c),
    ]
    assert ledger.requests == 2
    letters = await read_topic(kafka_bootstrap, dlq)
    assert len(letters) == 1
    _assert_undecodable_letter(letters[0], topic, offset_b, value_b)


async def test_undecodable_record_first_and_after_a_restart(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver
) -> None:
    """An undecodable record at the very start, and another one met after a restart."""
    topic = await new_topic(1)
    dlq = f"{topic}.dlq"
    await ensure_topic(kafka_bootstrap, dlq)
    values = [encode(signal("EURUSD", seq)) for seq in range(4)]
    offset_b = await produce_bad_header_key(kafka_bootstrap, topic, KEY, values[0])
    (a,) = await publish(kafka_bootstrap, topic, [(KEY, values[1])])
    settings = relay_settings(kafka_bootstrap, topic, receiver.url, KAFKA_DLQ_TOPIC=dlq)
    ledger = receiver.app.ledger

    async with running_relay(settings):
        assert await asyncio.to_thread(ledger.wait_until, lambda led: led.accepted_count >= 1, 60)
        await _wait_committed(kafka_bootstrap, settings, topic, a.offset + 1)

    # Met from the committed offset by the next process: a keyless one, then a valid one.
    offset_d = await produce_bad_header_key(kafka_bootstrap, topic, None, values[2])
    (c,) = await publish(kafka_bootstrap, topic, [(KEY, values[3])])
    async with running_relay(settings):
        assert await asyncio.to_thread(ledger.wait_until, lambda led: led.accepted_count >= 2, 60)
        await _wait_committed(kafka_bootstrap, settings, topic, c.offset + 1)

    assert [s.signal_id for s in ledger.accepted] == [
        expected_signal_id(values[1]),
        expected_signal_id(values[3]),
    ]
    assert ledger.requests == 2
    letters = await read_topic(kafka_bootstrap, dlq)
    assert len(letters) == 2
    _assert_undecodable_letter(letters[0], topic, offset_b, values[0])
    _assert_undecodable_letter(letters[1], topic, offset_d, values[2], key=None)


TP = TopicPartition("t", 0)


def test_decode_raw_reads_the_whole_batch_around_an_undecodable_record() -> None:
    """A, B (bad header key), C in one batch: A and C come back valid, B as undecodable."""
    good = [(b"trace", b"1")]
    data = raw_batch([(KEY, b"a", good), (KEY, b"b", [(BAD_HEADER_KEY, b"x")]), (KEY, b"c", good)])
    decoded = decode_raw(TP, data, 0)
    assert decoded is not None
    records, next_offset = decoded.records, decoded.next_offset
    assert next_offset == 3
    assert [r.offset for r in records] == [0, 1, 2]
    assert [type(r) is UndecodableRecord for r in records] == [False, True, False]
    assert [r.value for r in records] == [b"a", b"b", b"c"]
    assert records[0].headers == (("trace", b"1"),)
    assert records[1].headers == ((READABLE_HEADER_KEY, b"x"),)
    # From a committed offset past B (a restart): B still breaks aiokafka's batch, C is kept.
    assert decode_raw(TP, data, 2) == Decoded([records[2]], 3)
    # A batch aiokafka decodes is left to it.
    assert decode_raw(TP, raw_batch([(KEY, b"a", good)]), 0) is None


def test_decode_raw_distrusts_a_batch_with_a_bad_crc() -> None:
    """A corrupt batch: every record is dead-lettered with what could be read."""
    data = raw_batch([(KEY, b"a", []), (KEY, b"b", [])], corrupt_crc=True)
    decoded = decode_raw(TP, data, 0)
    assert decoded is not None
    records, next_offset = decoded.records, decoded.next_offset
    assert next_offset == 2
    assert all(isinstance(r, UndecodableRecord) for r in records)
    assert [r.value for r in records] == [b"a", b"b"]
    assert "CRC" in records[0].error


def test_decode_raw_stands_one_letter_for_an_unreadable_batch() -> None:
    """A record structure that cannot be read: one letter at the batch's last offset."""
    data = bytearray(raw_batch([(KEY, b"a", []), (KEY, b"b", [])]))
    data[-3] = 0x7F  # the last record's value length now runs past the batch
    struct.pack_into(">I", data, 17, calc_crc32c(bytes(data[21:])))
    decoded = decode_raw(TP, bytes(data), 0)
    assert decoded is not None
    records, next_offset = decoded.records, decoded.next_offset
    assert next_offset == 2
    assert [(r.offset, type(r) is UndecodableRecord) for r in records] == [(0, False), (1, True)]
    # The letter carries the batch's raw bytes and says which offsets it stands for.
    assert records[1].value == bytes(data)
    assert records[1].first_offset == 1
    assert "unreadable" in records[1].error
