"""A record too large for the DLQ is dead-lettered cut to fit; its partition goes on."""

import asyncio

from aiokafka import AIOKafkaProducer
from conftest import RunningReceiver, TopicFactory, eventually_async
from relay_harness import encode, relay_settings, running_relay, signal

from consumer.adapters import DLQ_MAX_MESSAGE_BYTES
from consumer.tools import committed_offsets, ensure_topic, read_topic

HUGE = 10 * 1024 * 1024


async def test_ten_megabyte_record_does_not_wedge_its_partition(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver
) -> None:
    """10 MB value: too_large, a truncated dead letter that fits, the next record delivered."""
    topic = await new_topic(1)
    dlq = f"{topic}.dlq"
    await ensure_topic(kafka_bootstrap, dlq)
    huge = b'{"note":"' + b"x" * (HUGE - 11) + b'"}'
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", max_request_size=HUGE + 65536
    )
    await producer.start()
    try:
        first = await producer.send_and_wait(topic, value=huge, key=b"BIG")
        last = await producer.send_and_wait(topic, value=encode(signal("OK", 1)), key=b"OK")
    finally:
        await producer.stop()
    settings = relay_settings(kafka_bootstrap, topic, receiver.url)

    async with running_relay(settings):
        assert await asyncio.to_thread(
            receiver.app.ledger.wait_until, lambda led: led.accepted_count == 1, 60
        )

        async def all_committed() -> bool:
            offsets = await committed_offsets(kafka_bootstrap, settings.group_id, topic)
            end: int = last.offset + 1
            return offsets.get(0) == end

        await eventually_async(all_committed, 60, "both offsets committed")

    [letter] = await read_topic(kafka_bootstrap, dlq)
    headers = dict(letter.headers)
    assert headers["dlq.reason"] == b"too_large"
    assert headers["dlq.truncated"] == b"true"
    assert headers["dlq.original_size"] == str(len(huge)).encode()
    assert headers["dlq.source.offset"] == str(first.offset).encode()
    assert letter.value == huge[: len(letter.value)]
    assert len(letter.value) < DLQ_MAX_MESSAGE_BYTES
