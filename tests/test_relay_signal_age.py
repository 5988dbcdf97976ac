"""Stale signals are dead-lettered as `expired` and committed, also once they age out retrying."""

from datetime import UTC, datetime, timedelta

from conftest import RunningReceiver, TopicFactory, eventually_async
from relay_harness import (
    encode,
    end_offsets,
    expected_signal_id,
    publish,
    relay_settings,
    running_relay,
    signal,
)

from consumer.tools import committed_offsets, ensure_topic, read_topic
from signing.receiver import Faults


def _generated(ago: timedelta) -> str:
    return (datetime.now(UTC) - ago).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def test_a_stale_record_is_dead_lettered_as_expired_and_committed(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver
) -> None:
    """A two-hour-old signal is never sent: `expired` with its age in the DLQ; all committed."""
    topic = await new_topic(1)
    dlq = f"{topic}.dlq"
    await ensure_topic(kafka_bootstrap, dlq)
    stale = encode(signal("OLD", 1, generated_at=_generated(timedelta(hours=2))))
    records: list[tuple[bytes | None, bytes]] = [
        (b"NEW", encode(signal("NEW", 0, generated_at=_generated(timedelta(0))))),
        (b"OLD", stale),
        (b"NEW", encode(signal("NEW", 2))),  # no generated_at: the fresh Kafka timestamp counts
    ]
    published = await publish(kafka_bootstrap, topic, records)
    settings = relay_settings(kafka_bootstrap, topic, receiver.url, RELAY_MAX_SIGNAL_AGE_SECONDS=60)

    async with running_relay(settings) as relay:
        expected = end_offsets(published)

        async def all_committed() -> bool:
            return await committed_offsets(kafka_bootstrap, settings.group_id, topic) == expected

        await eventually_async(all_committed, 60, "every offset committed")
        assert relay.metrics.dead_lettered.labels("expired")._value.get() == 1

    (letter,) = await read_topic(kafka_bootstrap, dlq)
    headers = dict(letter.headers)
    assert letter.value == stale
    assert headers["dlq.reason"] == b"expired"
    assert headers["dlq.attempts"] == b"0"
    assert 7200 <= float(headers["dlq.age_seconds"]) < 7200 + 60
    assert b"(by generated_at)" in headers["dlq.error"]
    assert headers["dlq.signal_id"] == expected_signal_id(stale).encode()
    assert headers["dlq.source.offset"] == b"1"
    assert receiver.app.ledger.requests == 2
    assert receiver.app.ledger.accepted_count == 2
    assert receiver.app.ledger.get(expected_signal_id(stale)) is None


async def test_a_signal_that_ages_out_during_503_retries_stops_being_retried(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver
) -> None:
    """Answered 503 for good, a fresh signal is retried until it is 2 s old, then `expired`."""
    topic = await new_topic(1)
    dlq = f"{topic}.dlq"
    await ensure_topic(kafka_bootstrap, dlq)
    receiver.app.faults = Faults(status_by_instrument={"BUSY": 503})
    settings = relay_settings(
        kafka_bootstrap,
        topic,
        receiver.url,
        RELAY_MAX_SIGNAL_AGE_SECONDS=2,
        RELAY_RETRY_BASE_SECONDS=0.1,
        RELAY_RETRY_MAX_SECONDS=0.2,
    )

    async with running_relay(settings):
        # Published once the relay is in the group, so that it is fresh at its first attempt.
        busy = encode(signal("BUSY", 0, generated_at=_generated(timedelta(0))))
        published = await publish(kafka_bootstrap, topic, [(b"BUSY", busy)])
        expected = end_offsets(published)

        async def committed() -> bool:
            return await committed_offsets(kafka_bootstrap, settings.group_id, topic) == expected

        await eventually_async(committed, 60, "the expired record committed")
        attempts = receiver.app.ledger.count(503)

    (letter,) = await read_topic(kafka_bootstrap, dlq)
    headers = dict(letter.headers)
    assert headers["dlq.reason"] == b"expired"
    assert headers["dlq.http.status"] == b"503"
    assert float(headers["dlq.age_seconds"]) > 2
    assert int(headers["dlq.attempts"]) == attempts
    assert attempts > 1
    assert receiver.app.ledger.count(503) == attempts  # no attempt after it expired
    assert receiver.app.ledger.accepted_count == 0
