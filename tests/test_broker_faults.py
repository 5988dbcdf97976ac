"""The relay behind a TCP fault proxy to the broker (tests/fault_proxy.py): docs/PROTOCOL.md §8, §12

The module runs its own memory-only Tansu that advertises the proxy, so every Kafka
connection of the relay (bootstrap, coordinator, fetches, commits, DLQ producer) goes through
the proxy. The signal server is the project's well-behaved reference receiver.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from conftest import RunningReceiver, eventually, eventually_async
from fault_proxy import ProxiedBroker, proxied_tansu
from log_capture import json_lines, rendered_logs
from relay_harness import (
    Published,
    end_offsets,
    expected_signal_id,
    keyed_signals,
    publish,
    relay_settings,
)

from consumer.config import Settings
from consumer.service import Relay
from consumer.tools import committed_offsets, ensure_topic
from signing.receiver import Faults


@pytest.fixture(scope="module")
def proxied() -> Iterator[ProxiedBroker]:
    """A Tansu reachable only through a fault proxy (one per module: its start is slow)."""
    with proxied_tansu() as broker:
        yield broker


@pytest.fixture(autouse=True)
def _proxy_passes(proxied: ProxiedBroker) -> Iterator[None]:
    proxied.proxy.set_mode("pass", latency_ms=0)
    yield
    proxied.proxy.set_mode("pass", latency_ms=0)


async def _topic(proxied: ProxiedBroker, partitions: int) -> str:
    import uuid

    name = f"faults-{uuid.uuid4().hex[:12]}"
    await ensure_topic(proxied.bootstrap_servers, name, partitions)
    await ensure_topic(proxied.bootstrap_servers, f"{name}.dlq")
    return name


@contextlib.asynccontextmanager
async def _started(settings: Settings) -> AsyncIterator[tuple[Relay, asyncio.Task[None]]]:
    """A relay running in this loop, joined; stopped (bounded) when the block ends."""
    relay = Relay(settings)
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: relay.joined.is_set() or task.done(), 60, "the relay to join")
        if task.done():
            task.result()
            raise AssertionError("relay stopped before joining")
        yield relay, task
    finally:
        relay.request_stop()
        done, _ = await asyncio.wait({task}, timeout=60)
        if not done:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


def _lost(published: list[Published], receiver: RunningReceiver) -> list[str]:
    ledger = receiver.app.ledger
    return [
        sid for sid in (expected_signal_id(p.value) for p in published) if ledger.get(sid) is None
    ]


def _committed_but_not_delivered(
    published: list[Published], committed: dict[int, int], receiver: RunningReceiver
) -> list[tuple[int, int]]:
    ledger = receiver.app.ledger
    return [
        (p.partition, p.offset)
        for p in published
        if p.offset < committed.get(p.partition, 0)
        and ledger.get(expected_signal_id(p.value)) is None
    ]


async def test_stop_during_a_blackhole_returns_within_grace_and_commits_only_finals(
    proxied: ProxiedBroker, receiver: RunningReceiver
) -> None:
    """SIGTERM 2 s into a broker blackhole: run() returns within grace + 5 s; no false commit."""
    grace = 3.0
    topic = await _topic(proxied, 2)
    bootstrap = proxied.bootstrap_servers
    published = await publish(bootstrap, topic, keyed_signals(["A", "B", "C", "D"], 15))
    receiver.app.faults = Faults(latency_ms=150)
    settings = relay_settings(
        bootstrap,
        topic,
        receiver.url,
        KAFKA_DLQ_TOPIC=f"{topic}.dlq",
        RELAY_SHUTDOWN_GRACE_SECONDS=grace,
    )
    ledger = receiver.app.ledger
    async with _started(settings) as (relay, task):
        await eventually(lambda: ledger.accepted_count >= 8, 30, "deliveries under way")
        proxied.proxy.set_mode("blackhole")
        done, _ = await asyncio.wait({task}, timeout=2.0)
        assert not done, "the relay stopped by itself in a blackhole"
        started = time.monotonic()
        relay.request_stop()
        done, _ = await asyncio.wait({task}, timeout=grace + 30)
        elapsed = time.monotonic() - started
        print(f"blackhole stop: run() returned after {elapsed:.2f}s (grace {grace}s)")
        assert done, f"run() still running {elapsed:.1f}s after request_stop()"
        assert elapsed <= grace + 5, f"run() took {elapsed:.1f}s"
        # A crash during shutdown is acceptable only as a clean exception, not a hang.
        with contextlib.suppress(Exception):
            task.result()
    proxied.proxy.set_mode("pass")
    committed = await committed_offsets(bootstrap, settings.group_id, topic)
    print(
        f"blackhole stop: published {len(published)}, delivered {ledger.accepted_count}, "
        f"committed {committed}, log end {end_offsets(published)}"
    )
    assert _committed_but_not_delivered(published, committed, receiver) == []


async def test_a_3s_broker_cut_loses_nothing_and_readiness_recovers(
    proxied: ProxiedBroker, receiver: RunningReceiver
) -> None:
    """Cut every broker connection for >= 3 s: not ready while cut, ready after, 0 lost.

    The cut lasts 3 s and, if the relay's broker check (every 5 s, 5 s timeout) has not
    noticed yet, until it does (at most 15 s): readiness must reflect a real outage.
    """
    topic = await _topic(proxied, 2)
    bootstrap = proxied.bootstrap_servers
    first = await publish(bootstrap, topic, keyed_signals(["A", "B", "C"], 20))
    receiver.app.faults = Faults(latency_ms=50)
    settings = relay_settings(bootstrap, topic, receiver.url, KAFKA_DLQ_TOPIC=f"{topic}.dlq")
    ledger = receiver.app.ledger
    async with _started(settings) as (relay, task):
        await eventually(lambda: ledger.accepted_count >= 5, 30, "deliveries under way")
        assert relay.readiness()[0]
        cut_at = time.monotonic()
        proxied.proxy.set_mode("cut")
        done, _ = await asyncio.wait({task}, timeout=3.0)
        assert not done, "the relay stopped during a broker cut"
        await eventually(lambda: not relay.readiness()[0], 15, "readiness to fail while cut")
        not_ready_after = time.monotonic() - cut_at
        reason = relay.readiness()[1]
        proxied.proxy.set_mode("pass")
        try:
            await eventually(lambda: relay.readiness()[0], 30, "readiness to come back")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; still not ready: {relay.readiness()[1]}") from None
        ready_after = time.monotonic() - cut_at
        second = await publish(bootstrap, topic, keyed_signals(["E", "F", "G"], 10))
        published = first + second
        expected = end_offsets(published)

        async def all_committed() -> bool:
            return await committed_offsets(bootstrap, settings.group_id, topic) == expected

        await eventually_async(all_committed, 60, "every offset committed after the cut")
        assert not task.done()
    lost = _lost(published, receiver)
    print(
        f"cut: not ready after {not_ready_after:.1f}s ({reason}), ready again at "
        f"{ready_after:.1f}s; published {len(published)}, delivered {ledger.accepted_count}, "
        f"lost {len(lost)}"
    )
    assert lost == []


async def test_200ms_broker_latency_loses_nothing(
    proxied: ProxiedBroker, receiver: RunningReceiver
) -> None:
    """Every chunk to and from the broker 200 ms late: slower, but everything is delivered."""
    topic = await _topic(proxied, 2)
    bootstrap = proxied.bootstrap_servers
    proxied.proxy.set_mode("latency", latency_ms=200)
    published = await publish(bootstrap, topic, keyed_signals(["A", "B", "C", "D"], 10))
    settings = relay_settings(bootstrap, topic, receiver.url, KAFKA_DLQ_TOPIC=f"{topic}.dlq")
    started = time.monotonic()
    async with _started(settings) as (_relay, task):
        expected = end_offsets(published)

        async def all_committed() -> bool:
            return await committed_offsets(bootstrap, settings.group_id, topic) == expected

        await eventually_async(all_committed, 90, "every offset committed with 200 ms latency")
        assert not task.done()
    lost = _lost(published, receiver)
    print(
        f"latency: {len(published)} published, {receiver.app.ledger.accepted_count} delivered, "
        f"lost {len(lost)}, {time.monotonic() - started:.1f}s"
    )
    assert lost == []


async def test_a_broker_cut_logs_one_json_line_per_repeated_kafka_error(
    proxied: ProxiedBroker, receiver: RunningReceiver
) -> None:
    """While the broker is cut, aiokafka's lines are JSON, each shown once, then counted.

    The relay is stopped during the cut: the suppressed counts are reported as logging ends.
    """
    topic = await _topic(proxied, 1)
    settings = relay_settings(
        proxied.bootstrap_servers, topic, receiver.url, KAFKA_DLQ_TOPIC=f"{topic}.dlq"
    )
    with rendered_logs() as stream:
        async with _started(settings) as (relay, _task):
            proxied.proxy.set_mode("cut")
            await eventually(lambda: not relay.readiness()[0], 15, "readiness to fail while cut")
    lines = json_lines(stream.getvalue())
    kafka = [
        (line["logger"], line["event"]) for line in lines if line["logger"].startswith("aiokafka")
    ]
    suppressed = sum(
        line["suppressed"] for line in lines if line["event"] == "log_lines_suppressed"
    )
    print(f"cut: {len(lines)} lines, {len(kafka)} from aiokafka, {suppressed} suppressed")
    assert {line["service"] for line in lines} == {"signal-relay"}
    assert suppressed > len(kafka)
    assert len(kafka) <= 20, kafka
