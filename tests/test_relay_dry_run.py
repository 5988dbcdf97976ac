"""Dry run (HMAC_PRODUCER_ENABLED=false): sign and log; nothing sent, dead-lettered or committed."""

from conftest import RunningReceiver, TopicFactory, eventually
from relay_harness import encode, keyed_signals, publish, relay_settings, running_relay

from consumer.tools import committed_offsets, ensure_topic, read_topic


async def test_dry_run_sends_nothing_and_commits_nothing(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver
) -> None:
    """Valid records are signed and counted, an invalid one is only logged; no side effects."""
    topic = await new_topic(2)
    dlq = f"{topic}.dlq"
    await ensure_topic(kafka_bootstrap, dlq)
    records = [*keyed_signals(["A", "B"], 3), (b"bad", encode({"instrument": "lower"}))]
    await publish(kafka_bootstrap, topic, records)
    settings = relay_settings(kafka_bootstrap, topic, receiver.url, HMAC_PRODUCER_ENABLED="false")

    async with running_relay(settings) as relay:
        outcomes = relay.metrics.outcomes

        def all_seen() -> bool:
            signed = outcomes.labels("dry_run").value
            invalid = outcomes.labels("dry_run_dead_letter").value
            return (signed, invalid) == (6, 1)

        await eventually(all_seen, 30, "every record to be dry-run")

    assert receiver.app.ledger.requests == 0
    assert await committed_offsets(kafka_bootstrap, settings.group_id, topic) == {}
    assert await read_topic(kafka_bootstrap, dlq) == []
