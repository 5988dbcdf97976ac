"""A key that keeps failing holds only itself and the commit; its partition pauses, then resumes."""

import asyncio

from conftest import RunningReceiver, TopicFactory, eventually, eventually_async
from relay_harness import encode, end_offsets, publish, relay_settings, running_relay, signal

from consumer.tools import committed_offsets, ensure_topic
from signing.receiver import Faults


async def test_failing_key_holds_only_itself_and_pauses_its_partition_at_the_bound(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver
) -> None:
    """Other keys flow past a failing key until the buffer bound; all resumes once it recovers."""
    topic = await new_topic(1)
    await ensure_topic(kafka_bootstrap, f"{topic}.dlq")
    records: list[tuple[bytes | None, bytes]] = [(b"STUCK", encode(signal("STUCK", 0)))]
    records += [(f"K{i % 5}".encode(), encode(signal(f"K{i % 5}", i))) for i in range(60)]
    published = await publish(kafka_bootstrap, topic, records)
    receiver.app.faults = Faults(status_by_instrument={"STUCK": 503})
    settings = relay_settings(kafka_bootstrap, topic, receiver.url, RELAY_PARTITION_BUFFER=20)
    ledger = receiver.app.ledger

    async with running_relay(settings) as relay:
        await eventually(
            lambda: relay.metrics.paused_partitions._value.get() == 1,
            30,
            "the partition to pause at the buffer bound",
        )
        assert await asyncio.to_thread(
            ledger.wait_until, lambda led: led.accepted_count >= 19 and led.count(503) >= 3, 30
        )
        assert "STUCK" not in {s.instrument for s in ledger.accepted}
        offsets = await committed_offsets(kafka_bootstrap, settings.group_id, topic)
        assert offsets.get(0, 0) == 0

        receiver.app.faults = Faults()
        expected = end_offsets(published)

        async def all_committed() -> bool:
            return await committed_offsets(kafka_bootstrap, settings.group_id, topic) == expected

        await eventually_async(all_committed, 60, "every offset committed after recovery")
        assert relay.metrics.paused_partitions._value.get() == 0

    assert ledger.accepted_count == 61
    assert ledger.accepted[0].instrument != "STUCK"
