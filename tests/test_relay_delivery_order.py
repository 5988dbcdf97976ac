"""Delivery through a real broker and receiver: once each, signed, in per-key order, committed."""

import asyncio
from collections import defaultdict

import orjson
from conftest import RunningReceiver, TopicFactory
from relay_harness import (
    PRODUCER_ID,
    end_offsets,
    keyed_signals,
    publish,
    relay_settings,
    running_relay,
)

from consumer.tools import committed_offsets, ensure_topic


def _seq(body: bytes) -> int:
    return int(orjson.loads(body)["note"].removeprefix("seq="))


async def test_every_signal_delivered_once_in_key_order_and_committed(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver
) -> None:
    """Three partitions, eight keys: each arrives once, signed, in key order; all committed."""
    topic = await new_topic(3)
    await ensure_topic(kafka_bootstrap, f"{topic}.dlq")
    instruments = [f"INST{i}" for i in range(8)]
    published = await publish(kafka_bootstrap, topic, keyed_signals(instruments, 25))
    settings = relay_settings(kafka_bootstrap, topic, receiver.url)
    ledger = receiver.app.ledger

    async with running_relay(settings):
        arrived = await asyncio.to_thread(
            ledger.wait_until, lambda led: led.accepted_count >= 200, 60
        )
        assert arrived, f"only {ledger.accepted_count} of 200 signals arrived"

    accepted = ledger.accepted
    assert len(accepted) == 200
    assert set(ledger.delivery_counts().values()) == {1}
    by_instrument: dict[str, list[int]] = defaultdict(list)
    for signal in accepted:
        assert signal.idempotency_key == signal.signal_id
        assert signal.producer_id == PRODUCER_ID
        assert signal.headers["user-agent"].startswith("signal-relay/")
        by_instrument[signal.instrument].append(_seq(signal.body))
    assert by_instrument == {inst: list(range(25)) for inst in instruments}

    expected = end_offsets(published)
    assert await committed_offsets(kafka_bootstrap, settings.group_id, topic) == expected
