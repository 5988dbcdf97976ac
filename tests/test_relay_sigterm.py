"""SIGTERM drains, commits and exits 0; a restart sends nothing that was already delivered."""

import asyncio
import signal
from pathlib import Path

from conftest import RunningReceiver, TopicFactory, eventually_async
from relay_harness import (
    end_offsets,
    expected_signal_id,
    keyed_signals,
    publish,
    relay_env,
    relay_process,
)

from consumer.tools import committed_offsets, ensure_topic
from signing.receiver import Faults


async def test_sigterm_drains_commits_and_a_restart_sends_nothing_twice(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver, tmp_path: Path
) -> None:
    """Stop mid-stream with SIGTERM: exit 0; after a restart each signal was delivered once."""
    topic = await new_topic(3)
    await ensure_topic(kafka_bootstrap, f"{topic}.dlq")
    published = await publish(
        kafka_bootstrap, topic, keyed_signals([f"S{i}" for i in range(9)], 100)
    )
    total = len(published)
    receiver.app.faults = Faults(latency_ms=10)
    env = relay_env(kafka_bootstrap, topic, receiver.url, RELAY_PARTITION_BUFFER=30)
    ledger = receiver.app.ledger

    with relay_process(env, tmp_path / "first.log") as first:
        assert await asyncio.to_thread(ledger.wait_until, lambda led: led.accepted_count >= 150, 60)
        first.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(first.wait, 30) == 0
    delivered_before_restart = ledger.accepted_count
    assert delivered_before_restart < total
    committed = await committed_offsets(kafka_bootstrap, env["KAFKA_GROUP_ID"], topic)
    assert sum(committed.values()) == delivered_before_restart

    with relay_process(env, tmp_path / "second.log"):

        async def all_committed() -> bool:
            got = await committed_offsets(kafka_bootstrap, env["KAFKA_GROUP_ID"], topic)
            return got == end_offsets(published)

        await eventually_async(all_committed, 90, "every offset committed after the restart")

    assert {s.signal_id for s in ledger.accepted} == {
        expected_signal_id(p.value) for p in published
    }
    assert set(ledger.delivery_counts().values()) == {1}
