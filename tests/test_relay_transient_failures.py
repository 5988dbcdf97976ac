"""5xx bursts, 429 with Retry-After and dropped connections: retried, never committed early."""

import asyncio

from conftest import RunningReceiver, TopicFactory, eventually_async
from relay_harness import (
    end_offsets,
    expected_signal_id,
    keyed_signals,
    publish,
    relay_settings,
    running_relay,
)

from consumer.tools import committed_offsets, ensure_topic
from signing.receiver import Faults


async def test_transient_failures_are_retried_and_commits_never_pass_a_pending_record(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver
) -> None:
    """Every signal arrives under faults, one idempotency key each; commits trail deliveries."""
    topic = await new_topic(2)
    await ensure_topic(kafka_bootstrap, f"{topic}.dlq")
    published = await publish(
        kafka_bootstrap, topic, keyed_signals([f"K{i}" for i in range(6)], 25)
    )
    ids = {(p.partition, p.offset): expected_signal_id(p.value) for p in published}
    receiver.app.faults = Faults(
        error_rate=0.25, throttle_rate=0.15, retry_after_seconds=1, drop_rate=0.1, seed=7
    )
    settings = relay_settings(kafka_bootstrap, topic, receiver.url)
    ledger = receiver.app.ledger
    violations: list[str] = []
    samples = 0
    sampling = asyncio.Event()
    sampling.set()

    async def sample_commits() -> None:
        nonlocal samples
        while sampling.is_set():
            committed = await committed_offsets(kafka_bootstrap, settings.group_id, topic)
            accepted = {s.signal_id for s in ledger.accepted}
            samples += 1
            for (partition, offset), signal_id in ids.items():
                if offset < committed.get(partition, 0) and signal_id not in accepted:
                    violations.append(f"p{partition}@{offset} committed before delivery")

    async with running_relay(settings):
        sampler = asyncio.create_task(sample_commits())
        try:
            expected = end_offsets(published)

            async def all_committed() -> bool:
                got = await committed_offsets(kafka_bootstrap, settings.group_id, topic)
                return got == expected

            await eventually_async(all_committed, 90, "every offset committed")
        finally:
            sampling.clear()  # let the sampler finish its round and close its admin client
            await asyncio.wait_for(sampler, 30)

    assert not violations, violations[:5]
    assert samples > 3
    assert {s.idempotency_key for s in ledger.accepted} == set(ids.values())
    assert ledger.accepted_count == len(published)
    assert ledger.count(503) > 0
    assert ledger.count(429) > 0
    assert ledger.dropped > 0
    replayed = [sid for sid, n in ledger.delivery_counts().items() if n > 1]
    assert replayed, "a dropped connection should have caused a re-send of the same key"
