"""Soak: 5,000 signals through a flapping broker proxy to the faulty reference receiver.

The receiver verifies every signature and injects 503s, 429s and dropped connections after
accepting (so some deliveries are repeated with the same idempotency key); the broker proxy
flaps between pass, cut, blackhole and latency. At the end every signal is in the receiver's
ledger, every offset is committed to the log end and nothing is dead-lettered.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterator

import pytest
from conftest import RunningReceiver, eventually, eventually_async
from fault_proxy import Mode, ProxiedBroker, proxied_tansu
from relay_harness import end_offsets, expected_signal_id, keyed_signals, publish, relay_settings

from consumer.service import Relay
from consumer.tools import committed_offsets, ensure_topic, read_topic
from signing.receiver import Faults

KEYS = [f"R{i:02d}" for i in range(40)]
SIGNALS_PER_KEY = 125  # 5,000 signals
FLAP_SECONDS = 40.0
FLAPS: list[tuple[Mode, float]] = [
    ("pass", 2.5),
    ("latency", 2.0),
    ("cut", 1.0),
    ("pass", 2.5),
    ("blackhole", 3.0),
    ("pass", 2.0),
    ("cut", 3.0),
]


@pytest.fixture(scope="module")
def proxied() -> Iterator[ProxiedBroker]:
    with proxied_tansu() as broker:
        yield broker


async def _flap(proxied: ProxiedBroker, seconds: float) -> int:
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    i = 0
    while loop.time() < until:
        mode, hold = FLAPS[i % len(FLAPS)]
        proxied.proxy.set_mode(mode, latency_ms=150)
        await asyncio.sleep(hold)  # the scenario's rhythm, not a wait for a condition
        i += 1
    proxied.proxy.set_mode("pass", latency_ms=0)
    return i


async def test_5000_signals_through_a_flapping_broker_to_a_faulty_receiver(
    proxied: ProxiedBroker, receiver: RunningReceiver
) -> None:
    bootstrap = proxied.bootstrap_servers
    topic = f"chaos-{uuid.uuid4().hex[:12]}"
    dlq = f"{topic}.dlq"
    await ensure_topic(bootstrap, topic, 4)
    await ensure_topic(bootstrap, dlq)
    published = await publish(bootstrap, topic, keyed_signals(KEYS, SIGNALS_PER_KEY))
    receiver.app.faults = Faults(
        error_rate=0.1, throttle_rate=0.05, retry_after_seconds=1, drop_rate=0.05, seed=7
    )
    settings = relay_settings(bootstrap, topic, receiver.url, KAFKA_DLQ_TOPIC=dlq)
    relay = Relay(settings)
    task = asyncio.create_task(relay.run())
    started = time.monotonic()
    try:
        await eventually(lambda: relay.joined.is_set() or task.done(), 60, "join")
        flapper = asyncio.create_task(_flap(proxied, FLAP_SECONDS))
        while not flapper.done():
            await asyncio.wait({flapper, task}, timeout=0.2)
            assert not task.done(), f"relay stopped: {task.exception()!r}"
        flaps = await flapper
        expected = end_offsets(published)

        async def all_committed() -> bool:
            assert not task.done(), f"relay stopped: {task.exception()!r}"
            return await committed_offsets(bootstrap, settings.group_id, topic) == expected

        await eventually_async(all_committed, 240, "every offset committed")
    finally:
        relay.request_stop()
        done, _ = await asyncio.wait({task}, timeout=60)
        if not done:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
    task.result()
    ledger = receiver.app.ledger
    lost = [
        sid for sid in (expected_signal_id(p.value) for p in published) if ledger.get(sid) is None
    ]
    print(
        f"soak: {len(published)} published, {ledger.accepted_count} in the ledger, "
        f"{len(lost)} lost, statuses {ledger.status_counts}, dropped {ledger.dropped}, "
        f"flaps {flaps}, {time.monotonic() - started:.0f}s"
    )
    assert lost == []
    assert await read_topic(bootstrap, dlq) == []
