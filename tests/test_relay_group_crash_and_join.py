"""A group of relay processes: SIGKILL one, add one; nothing lost, order per key kept."""

import asyncio
from collections import defaultdict
from pathlib import Path

import orjson
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

TOTAL_KEYS, PER_KEY = 20, 80


async def test_killed_member_loses_nothing_and_a_joining_member_keeps_key_order(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver, tmp_path: Path
) -> None:
    """SIGKILL mid-stream and a late joiner: every signal arrives, re-sends reuse their key."""
    topic = await new_topic(6)
    await ensure_topic(kafka_bootstrap, f"{topic}.dlq")
    instruments = [f"I{i:02d}" for i in range(TOTAL_KEYS)]
    published = await publish(kafka_bootstrap, topic, keyed_signals(instruments, PER_KEY))
    expected_ids = {expected_signal_id(p.value) for p in published}
    total = len(published)
    receiver.app.faults = Faults(latency_ms=15)
    env = relay_env(kafka_bootstrap, topic, receiver.url, RELAY_PARTITION_BUFFER=50)
    ledger = receiver.app.ledger

    with (
        relay_process(env, tmp_path / "a.log") as first,
        relay_process(env, tmp_path / "b.log") as second,
    ):
        assert await asyncio.to_thread(ledger.wait_until, lambda led: led.accepted_count >= 300, 60)
        first.kill()
        assert first.wait(10) != 0
        assert await asyncio.to_thread(
            ledger.wait_until, lambda led: led.accepted_count >= total // 2, 90
        )
        with relay_process(env, tmp_path / "c.log") as third:

            async def all_committed() -> bool:
                got = await committed_offsets(kafka_bootstrap, env["KAFKA_GROUP_ID"], topic)
                return got == end_offsets(published)

            await eventually_async(all_committed, 120, "every offset committed")
            assert third.poll() is None
        assert second.poll() is None

    accepted = ledger.accepted
    assert {s.idempotency_key for s in accepted} == expected_ids
    assert len(accepted) == total
    sequences: dict[str, list[int]] = defaultdict(list)
    for s in accepted:
        sequences[s.instrument].append(int(orjson.loads(s.body)["note"].removeprefix("seq=")))
    assert all(seqs == list(range(PER_KEY)) for seqs in sequences.values())
