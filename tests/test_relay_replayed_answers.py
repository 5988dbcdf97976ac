"""A 201 with `Idempotent-Replayed: true` is a duplicate, not a delivery (docs/PROTOCOL.md §7)."""

from __future__ import annotations

import uuid

import pytest
from conftest import RunningReceiver, TopicFactory, eventually
from relay_harness import encode, publish, relay_settings, running_relay, signal

from consumer.service import Outcome, classify


@pytest.mark.parametrize(
    ("headers", "outcome"),
    [
        ({}, Outcome.DELIVERED),
        ({"idempotent-replayed": "true"}, Outcome.DUPLICATE),
        ({"idempotent-replayed": "True "}, Outcome.DUPLICATE),
        ({"idempotent-replayed": "false"}, Outcome.DELIVERED),
        ({"idempotent-replayed": "yes"}, Outcome.DELIVERED),
    ],
)
def test_a_replayed_201_classifies_as_a_duplicate(
    headers: dict[str, str], outcome: Outcome
) -> None:
    """Only `true` marks a 201 as a replay of an earlier acceptance."""
    assert classify(201, headers).outcome is outcome


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
async def test_the_relay_counts_a_replayed_key_as_a_duplicate(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver, transport: str
) -> None:
    """The same signal twice: one delivered, one duplicate (the receiver replays the 201)."""
    topic = await new_topic(1)
    signal_id = str(uuid.uuid4())
    once = encode(signal("XAUUSD", 0, signal_id=signal_id))
    records = [(b"XAUUSD", once), (b"XAUUSD", encode(signal("XAUUSD", 1))), (b"XAUUSD", once)]
    await publish(kafka_bootstrap, topic, records)
    settings = relay_settings(
        kafka_bootstrap, topic, receiver.url, OUTBOUND_HTTP_TRANSPORT=transport
    )
    async with running_relay(settings) as relay:
        registry = relay.metrics.registry

        def outcomes(label: str) -> float | None:
            return registry.get_sample_value("signal_relay_outcomes_total", {"outcome": label})

        await eventually(
            lambda: (outcomes("delivered"), outcomes("duplicate")) == (2, 1), 60, "3 outcomes"
        )
    assert receiver.app.ledger.status_counts == {201: 3}
    assert receiver.app.ledger.accepted_count == 2
