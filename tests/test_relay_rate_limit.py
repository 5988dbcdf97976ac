"""RELAY_MAX_REQUESTS_PER_SECOND holds a relay's requests to the rate, measured at the receiver."""

from conftest import RunningReceiver, TopicFactory, eventually_async
from relay_harness import end_offsets, keyed_signals, publish, relay_settings, running_relay

from consumer.tools import committed_offsets, ensure_topic

RATE = 20
BURST = 2  # a tenth of a second's worth (consumer/adapters/_request_rate.py)
JITTER = 1  # one request released just before a window may arrive inside it


def _busiest_second(arrivals: list[float]) -> int:
    """The most arrivals within any window of one second."""
    ordered = sorted(arrivals)
    busiest, start = 0, 0
    for end, at in enumerate(ordered):
        while at - ordered[start] >= 1.0:
            start += 1
        busiest = max(busiest, end - start + 1)
    return busiest


async def test_sixty_signals_at_twenty_per_second_take_their_time(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver
) -> None:
    """60 signals at 20/s span >= 2.5 s at the receiver, and no second holds more than the rate."""
    topic = await new_topic(3)
    await ensure_topic(kafka_bootstrap, f"{topic}.dlq")
    published = await publish(
        kafka_bootstrap, topic, keyed_signals([f"K{i}" for i in range(12)], 5)
    )
    settings = relay_settings(
        kafka_bootstrap, topic, receiver.url, RELAY_MAX_REQUESTS_PER_SECOND=RATE
    )

    async with running_relay(settings):
        expected = end_offsets(published)

        async def all_committed() -> bool:
            return await committed_offsets(kafka_bootstrap, settings.group_id, topic) == expected

        await eventually_async(all_committed, 90, "every offset committed")

    arrivals = [accepted.received_at for accepted in receiver.app.ledger.accepted]
    assert len(arrivals) == 60
    assert receiver.app.ledger.requests == 60
    assert max(arrivals) - min(arrivals) >= 2.5
    assert _busiest_second(arrivals) <= RATE + BURST + JITTER
