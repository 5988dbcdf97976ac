"""A restart skips the records finished above a stuck one: only what was in flight is re-sent.

The finished offsets travel in the commit's metadata. The bundled Tansu broker accepts commit
metadata but answers every OffsetFetch with an empty one, so there the relay must resume as
before (re-sending, nothing lost); the skip itself is checked on a Tansu of its own behind
`tansu_keeping_metadata`, a proxy that keeps commit metadata as a Kafka broker does.
"""

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from conftest import RunningReceiver, TopicFactory, eventually_async
from relay_harness import (
    Published,
    encode,
    end_offsets,
    expected_signal_id,
    keyed_signals,
    publish,
    relay_settings,
    running_relay,
    signal,
)

from consumer.config import Settings
from consumer.devkit import tansu_keeping_metadata
from consumer.service import committed_with_metadata, decode_finished
from consumer.tools import committed_offsets, ensure_topic
from signing.receiver import Faults, Ledger

OTHERS = 200


async def test_finished_records_above_a_stuck_key_are_not_sent_again_after_a_stop(
    receiver: RunningReceiver,
) -> None:
    """One key stuck on 503 at offset 0, the rest delivered, stop, restart: each sent once."""
    async with tansu_keeping_metadata() as (bootstrap, keeper):
        new_topic = _topics(bootstrap)
        assert await _broker_keeps_metadata(bootstrap, await new_topic(1))
        settings, published = await _stop_with_one_key_stuck(bootstrap, new_topic, receiver)
        tp = TopicPartition(settings.topic, 0)
        assert decode_finished(0, await _metadata(bootstrap, settings.group_id, tp)) == (
            (1, OTHERS + 1),
        )
        skipped = await _restart_until_committed(bootstrap, settings, published, receiver)
    assert keeper.filled >= 2
    assert skipped == OTHERS
    _assert_all_accepted(receiver.app.ledger, published)
    counts = receiver.app.ledger.delivery_counts()
    del counts[expected_signal_id(published[0].value)]  # the stuck one: its 503s count too
    assert set(counts.values()) == {1}


async def test_without_commit_metadata_a_restart_resends_as_before(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver
) -> None:
    """A broker (or an older relay) with no usable metadata: nothing skipped, nothing lost."""
    if await _broker_keeps_metadata(kafka_bootstrap, await new_topic(1)):
        pytest.skip("this broker keeps commit metadata: see the skip test")
    settings, published = await _stop_with_one_key_stuck(kafka_bootstrap, new_topic, receiver)
    skipped = await _restart_until_committed(kafka_bootstrap, settings, published, receiver)
    assert skipped == 0
    _assert_all_accepted(receiver.app.ledger, published)


def _topics(bootstrap: str) -> TopicFactory:
    async def create(partitions: int = 1) -> str:
        name = f"test-{uuid.uuid4().hex[:16]}"
        await ensure_topic(bootstrap, name, partitions)
        await ensure_topic(bootstrap, f"{name}.dlq")
        return name

    return create


async def _stop_with_one_key_stuck(
    bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver
) -> tuple[Settings, list[Published]]:
    topic = await new_topic(1)
    await ensure_topic(bootstrap, f"{topic}.dlq")
    records: list[tuple[bytes | None, bytes]] = [(b"STUCK", encode(signal("STUCK", 0)))]
    records += keyed_signals([f"K{i}" for i in range(10)], OTHERS // 10)
    published = await publish(bootstrap, topic, records)
    receiver.app.faults = Faults(status_by_instrument={"STUCK": 503})
    settings = relay_settings(bootstrap, topic, receiver.url, RELAY_SHUTDOWN_GRACE_SECONDS=2)
    ledger = receiver.app.ledger
    async with running_relay(settings):
        assert await asyncio.to_thread(
            ledger.wait_until, lambda led: led.accepted_count >= OTHERS, 60
        )
    assert await committed_offsets(bootstrap, settings.group_id, topic) == {0: 0}
    return settings, published


async def _restart_until_committed(
    bootstrap: str, settings: Settings, published: list[Published], receiver: RunningReceiver
) -> float:
    receiver.app.faults = Faults()
    expected = end_offsets(published)
    async with running_relay(settings) as relay:

        async def all_committed() -> bool:
            got = await committed_offsets(bootstrap, settings.group_id, settings.topic)
            return got == expected

        await eventually_async(all_committed, 60, "every offset committed after the restart")
        skipped: float = relay.metrics.skipped_finished._value.get()
    return skipped


def _assert_all_accepted(ledger: Ledger, published: list[Published]) -> None:
    assert {s.signal_id for s in ledger.accepted} == {
        expected_signal_id(p.value) for p in published
    }


async def _broker_keeps_metadata(bootstrap: str, topic: str) -> bool:
    group = f"probe-{uuid.uuid4().hex[:8]}"
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        await eventually_async(
            lambda: _assigned(consumer, tp), 30, "the probe consumer to own the partition"
        )
        await consumer.commit({tp: OffsetAndMetadata(0, "sr1:probe")})
        kept: str = (await committed_with_metadata(consumer, [tp]))[tp].metadata
        return kept == "sr1:probe"
    finally:
        await consumer.stop()


async def _assigned(consumer: AIOKafkaConsumer, tp: TopicPartition) -> bool:
    await consumer.getmany(timeout_ms=100)
    owned: set[TopicPartition] = consumer.assignment()
    return tp in owned


async def _metadata(bootstrap: str, group: str, tp: TopicPartition) -> str:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        metadata: str = (await committed_with_metadata(consumer, [tp]))[tp].metadata
        return metadata
    finally:
        await consumer.stop()
