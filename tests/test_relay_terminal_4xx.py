"""A terminal 4xx puts the record in the DLQ with the server's answer, then commits past it."""

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


async def test_terminal_422_is_dead_lettered_with_status_and_body_then_committed(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver
) -> None:
    """422: in the DLQ with dlq.http.status/body and the signal id; the offset is committed."""
    topic = await new_topic(1)
    dlq = f"{topic}.dlq"
    await ensure_topic(kafka_bootstrap, dlq)
    rejected = encode(signal("REJECT", 1))
    records: list[tuple[bytes | None, bytes]] = [
        (b"OK", encode(signal("OK", 0))),
        (b"REJECT", rejected),
        (b"OK", encode(signal("OK", 2))),
    ]
    published = await publish(kafka_bootstrap, topic, records)
    receiver.app.faults = Faults(status_by_instrument={"REJECT": 422})
    settings = relay_settings(kafka_bootstrap, topic, receiver.url)

    async with running_relay(settings):
        expected = end_offsets(published)

        async def all_committed() -> bool:
            return await committed_offsets(kafka_bootstrap, settings.group_id, topic) == expected

        await eventually_async(all_committed, 30, "every offset committed")

    (letter,) = await read_topic(kafka_bootstrap, dlq)
    headers = dict(letter.headers)
    assert letter.value == rejected
    assert letter.key == b"REJECT"
    assert headers["dlq.reason"] == b"http_4xx"
    assert headers["dlq.http.status"] == b"422"
    assert b"REJECT" in headers["dlq.http.body"] or len(headers["dlq.http.body"]) > 0
    assert headers["dlq.signal_id"] == expected_signal_id(rejected).encode()
    assert headers["dlq.attempts"] == b"1"
    assert headers["dlq.source.offset"] == b"1"
    assert receiver.app.ledger.count(422) == 1
    assert receiver.app.ledger.accepted_count == 2
