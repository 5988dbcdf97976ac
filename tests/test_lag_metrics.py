"""Lag series a `sum()` can trust: owned partitions only, uncommitted ones too, gone on revoke."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer
from conftest import RunningReceiver, TopicFactory, eventually, eventually_async
from relay_harness import encode, relay_settings, running_relay, signal

from consumer.service import Relay
from consumer.tools import committed_offsets
from signing.receiver import Faults

# Per partition: the records before a stuck instrument (committed), then it, then the rest.
# Partition 0 starts with it: never committed. Partition 2 has none: lag 0.
LAYOUT = {0: (0, 9), 1: (5, 9), 2: (10, None), 3: (3, 4)}
STUCK = {f"STUCK{p}": 503 for p, (_, after) in LAYOUT.items() if after is not None}


async def _publish(bootstrap: str, topic: str) -> dict[int, int]:
    """Publish the layout to explicit partitions; return each partition's log end."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    ends: dict[int, int] = {}
    try:
        for partition, (before, after) in LAYOUT.items():
            keys = [f"OK{partition}"] * before
            if after is not None:
                keys += [f"STUCK{partition}"] + [f"OK{partition}"] * after
            for seq, key in enumerate(keys):
                meta = await producer.send_and_wait(
                    topic, encode(signal(key, seq)), key=key.encode(), partition=partition
                )
                ends[partition] = meta.offset + 1
    finally:
        await producer.stop()
    return ends


def _lag(relay: Relay) -> dict[int, float]:
    """Partition -> the lag `relay` exports for its group."""
    group = relay.settings.group_id
    return {
        int(sample.labels["partition"]): sample.value
        for family in relay.metrics.registry.collect()
        if family.name == "signal_relay_consumer_lag"
        for sample in family.samples
        if sample.labels["group"] == group
    }


def _gauge(relay: Relay, name: str) -> float:
    found = relay.metrics.registry.get_sample_value(name, {"group": relay.settings.group_id})
    return found or 0.0


async def test_summed_lag_of_two_members_is_the_true_lag_before_and_after_a_join(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver
) -> None:
    """One member reports every partition; after a join each partition is reported once."""
    topic = await new_topic(len(LAYOUT))
    ends = await _publish(kafka_bootstrap, topic)
    receiver.app.faults = Faults(status_by_instrument=STUCK)
    settings = relay_settings(
        kafka_bootstrap,
        topic,
        receiver.url,
        RELAY_RETRY_BASE_SECONDS=0.2,
        RELAY_RETRY_MAX_SECONDS=0.5,
        RELAY_REVOKE_GRACE_SECONDS=1,
    )
    true_lag: dict[int, int] = {}

    async def refresh_true_lag() -> None:
        committed = await committed_offsets(kafka_bootstrap, settings.group_id, topic)
        true_lag.clear()
        true_lag.update({p: end - committed.get(p, 0) for p, end in ends.items()})

    async with running_relay(settings) as first:

        async def first_reports_all() -> bool:
            await refresh_true_lag()
            return _lag(first) == true_lag and true_lag[1] == 10

        await eventually_async(first_reports_all, 60, "the first member's lag to be the truth")
        before = _lag(first)
        print(f"\nbefore the join: member 1 {before}, sum {sum(before.values())}")
        assert before == {0: 10, 1: 10, 2: 0, 3: 5}
        assert _gauge(first, "signal_relay_assigned_partitions") == len(LAYOUT)

        async with running_relay(settings) as second:

            async def reported_once() -> bool:
                await refresh_true_lag()
                a, b = _lag(first), _lag(second)
                return (
                    a != {}
                    and b != {}
                    and a.keys().isdisjoint(b.keys())
                    and {**a, **b} == true_lag
                    and _gauge(first, "signal_relay_assigned_partitions") == len(a)
                    and _gauge(second, "signal_relay_assigned_partitions") == len(b)
                )

            await eventually_async(reported_once, 90, "each partition reported by its owner only")
            a, b = _lag(first), _lag(second)
            print(
                f"after the join: member 1 {a}, member 2 {b}, "
                f"sum {sum(a.values()) + sum(b.values())}, true {sum(true_lag.values())}"
            )
            assert sum(a.values()) + sum(b.values()) == sum(true_lag.values()) == 25
            assert set(before) - set(a) == set(b)
            assert _gauge(first, "signal_relay_rebalances_total") >= 2
            assert _gauge(second, "signal_relay_rebalances_total") >= 1


@pytest.mark.parametrize("isolation", ["read_committed", "read_uncommitted"])
async def test_a_caught_up_member_reports_no_lag_and_no_held_partition(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver, isolation: str
) -> None:
    """Either isolation level: lag counts to the readable end, and no transaction holds it."""
    topic = await new_topic(1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for seq in range(6):
            await producer.send_and_wait(topic, encode(signal("LAG", seq)), key=b"LAG")
    finally:
        await producer.stop()
    receiver.app.faults = Faults(status_by_instrument={"LAG": 503})
    settings = relay_settings(kafka_bootstrap, topic, receiver.url, KAFKA_ISOLATION_LEVEL=isolation)
    async with running_relay(settings) as relay:
        await eventually(lambda: _lag(relay) == {0: 6}, 30, "the lag of 6 unsent records")
        receiver.app.faults = Faults()
        await eventually(lambda: _lag(relay) == {0: 0}, 30, "the lag to fall to 0")
        assert _gauge(relay, "signal_relay_transaction_held_partitions") == 0
