"""A corrupt compressed batch on the broker: one `undecodable` letter with its raw bytes."""

import asyncio
import struct

from conftest import RunningReceiver, TopicFactory, eventually_async
from raw_records import compressible_values, corrupt_payload, produce_raw, v2_batch_at
from relay_harness import encode, expected_signal_id, publish, relay_settings, running_relay, signal

from consumer.tools import committed_offsets, read_topic

KEY = b"EURUSD"
GZIP = 1


async def test_a_corrupt_batch_between_valid_records_is_dead_lettered_whole(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver
) -> None:
    """Valid, corrupt gzip batch (3 records), valid: 4 delivered, 1 letter, all committed."""
    topic = await new_topic(1)
    values = [encode(signal("EURUSD", seq)) for seq in range(4)]
    before = await publish(kafka_bootstrap, topic, [(KEY, v) for v in values[:2]])
    corrupt = corrupt_payload(
        v2_batch_at(0, [(KEY, v) for v in compressible_values(3)], codec=GZIP)
    )
    first = await produce_raw(kafka_bootstrap, topic, 0, corrupt)
    after = await publish(kafka_bootstrap, topic, [(KEY, v) for v in values[2:]])
    assert before[-1].offset < first
    assert after[0].offset == first + 3
    end = after[-1].offset + 1
    settings = relay_settings(kafka_bootstrap, topic, receiver.url)
    ledger = receiver.app.ledger

    async def all_committed() -> bool:
        offsets = await committed_offsets(kafka_bootstrap, settings.group_id, topic)
        return offsets.get(0) == end

    async with running_relay(settings):
        assert await asyncio.to_thread(ledger.wait_until, lambda led: led.accepted_count >= 4, 60)
        await eventually_async(all_committed, 30, f"offset {end} committed")

    assert [s.signal_id for s in ledger.accepted] == [expected_signal_id(v) for v in values]
    (letter,) = await read_topic(kafka_bootstrap, settings.dlq_topic)
    headers = dict(letter.headers)
    assert headers["dlq.reason"] == b"undecodable"
    assert headers["dlq.source.offset"] == str(first + 2).encode()
    assert headers["dlq.source.first_offset"] == str(first).encode()
    assert b"unreadable" in headers["dlq.error"]
    # The stored batch: the broker set its base offset (and may set the leader epoch).
    assert letter.value[:12] == struct.pack(">q", first) + corrupt[8:12]
    assert letter.value[16:] == corrupt[16:]
