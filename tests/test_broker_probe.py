"""The readiness broker probe (consumer.adapters.probe_broker) against a real broker behind a
fault proxy (tests/fault_proxy.py): it tells an outage from a working broker, at once after the
outage ends, and never passes off a broken check as an outage.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import pytest
from aiokafka import AIOKafkaConsumer
from fault_proxy import ProxiedBroker, proxied_tansu

from consumer.adapters import BrokerReach, probe_broker


@pytest.fixture(scope="module")
def proxied() -> Iterator[ProxiedBroker]:
    """A Tansu reachable only through a fault proxy."""
    with proxied_tansu() as broker:
        yield broker


@pytest.fixture
async def client(proxied: ProxiedBroker) -> AsyncIterator[AIOKafkaConsumer]:
    """A started consumer (no group) whose connections all go through the proxy."""
    proxied.proxy.set_mode("pass", latency_ms=0)
    consumer = AIOKafkaConsumer(bootstrap_servers=proxied.bootstrap_servers)
    await consumer.start()
    try:
        yield consumer
    finally:
        proxied.proxy.set_mode("pass", latency_ms=0)
        await consumer.stop()


async def test_a_cut_is_unreachable_and_the_first_probe_after_it_is_reachable(
    proxied: ProxiedBroker, client: AIOKafkaConsumer
) -> None:
    """Reachable, then unreachable (a Kafka error) while cut, then reachable on the next probe."""
    assert await probe_broker(client, within=5) == BrokerReach(reachable=True)
    proxied.proxy.set_mode("cut")
    cut = await probe_broker(client, within=5)
    assert not cut.reachable
    assert cut.error.startswith("KafkaError: "), cut.error
    assert "KafkaError: KafkaError" not in cut.error, cut.error
    proxied.proxy.set_mode("pass")
    started = time.monotonic()
    assert await probe_broker(client, within=5) == BrokerReach(reachable=True)
    print(f"probe: first probe after the cut answered in {time.monotonic() - started:.2f}s")


async def test_a_broker_that_does_not_answer_in_time_is_unreachable(
    proxied: ProxiedBroker, client: AIOKafkaConsumer
) -> None:
    """A blackholed broker makes the probe return unreachable at its deadline."""
    proxied.proxy.set_mode("blackhole")
    started = time.monotonic()
    reach = await probe_broker(client, within=0.5)
    elapsed = time.monotonic() - started
    assert reach == BrokerReach(reachable=False, error="TimeoutError")
    assert elapsed < 3, elapsed


class _WithoutTopics:
    """A client whose `topics` is broken: the kind of bug that once kept readiness false."""

    async def topics(self) -> set[str]:
        raise AttributeError("'AIOKafkaConsumer' object has no attribute 'tools'")


async def test_a_broken_check_raises_instead_of_reporting_an_outage() -> None:
    """An error that is not an outage propagates: a bug is never "broker unreachable"."""
    with pytest.raises(AttributeError):
        await probe_broker(_WithoutTopics(), within=5)
