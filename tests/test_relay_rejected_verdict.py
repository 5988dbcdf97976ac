"""A 201 whose status is `rejected` ends `rejected`: counted, logged, committed, never delivered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from conftest import RunningReceiver, TopicFactory, eventually_async
from log_capture import json_lines, rendered_logs
from relay_harness import (
    Published,
    end_offsets,
    expected_signal_id,
    keyed_signals,
    publish,
    relay_settings,
    running_relay,
)

from consumer.service import Relay
from consumer.tools import committed_offsets, read_topic
from signing.receiver import Faults

ACCEPTED = ("EURUSD", "GBPUSD", "USDJPY", "XAUUSD")
REJECTED = ("BTCUSD", "ETHUSD")
PER_INSTRUMENT = 10  # 6 instruments x 10 = 60 signals, 20 of them rejected


@dataclass(frozen=True, slots=True)
class Run:
    """What one relay run left behind.

    Attributes:
        topic: the source topic.
        published: the records published.
        outcomes: `signal_relay_outcomes_total` by label (absent labels omitted).
        dlq_by_reason: `signal_relay_dlq_records_total` by reason.
        logs: the JSON log lines.
        dead_letters: the records in the DLQ topic.
        committed, log_end: committed offsets and the log end, by partition.
    """

    topic: str
    published: list[Published]
    outcomes: dict[str, float]
    dlq_by_reason: dict[str, float]
    logs: list[dict[str, Any]]
    dead_letters: list[Any]
    committed: dict[int, int]
    log_end: dict[int, int]


def _samples(relay: Relay, name: str, label: str) -> dict[str, float]:
    return {
        sample.labels[label]: sample.value
        for family in relay.metrics.registry.collect()
        for sample in family.samples
        if sample.name == name and sample.value
    }


async def _relay_60(
    bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver, **env: str
) -> Run:
    topic = await new_topic(3)
    published = await publish(
        bootstrap, topic, keyed_signals([*ACCEPTED, *REJECTED], PER_INSTRUMENT)
    )
    receiver.app.faults = Faults(reject_instruments=frozenset(REJECTED))
    settings = relay_settings(bootstrap, topic, receiver.url, **env)
    log_end = end_offsets(published)
    with rendered_logs() as stream:
        async with running_relay(settings) as relay:

            async def all_committed() -> bool:
                return await committed_offsets(bootstrap, settings.group_id, topic) == log_end

            await eventually_async(all_committed, 60, "every offset committed")
            outcomes = _samples(relay, "signal_relay_outcomes_total", "outcome")
            dlq = _samples(relay, "signal_relay_dlq_records_total", "reason")
        logs = json_lines(stream.getvalue())
    return Run(
        topic=topic,
        published=published,
        outcomes=outcomes,
        dlq_by_reason=dlq,
        logs=logs,
        dead_letters=await read_topic(bootstrap, settings.dlq_topic),
        committed=await committed_offsets(bootstrap, settings.group_id, topic),
        log_end=log_end,
    )


def _rejected_ids(run: Run) -> set[str]:
    return {
        expected_signal_id(record.value)
        for record in run.published
        if record.key is not None and record.key.decode() in REJECTED
    }


async def test_rejected_201s_are_counted_logged_and_committed_not_delivered(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver
) -> None:
    """60 signals, 20 answered 201 rejected: 40 delivered, 20 rejected, all committed, no DLQ."""
    run = await _relay_60(kafka_bootstrap, new_topic, receiver)

    assert run.outcomes == {"delivered": 40, "rejected": 20}
    assert run.dlq_by_reason == {}
    assert run.dead_letters == []
    assert run.committed == run.log_end
    assert sum(run.log_end.values()) == 60
    events = [line for line in run.logs if line["event"] == "rejected"]
    assert {line["signal_id"] for line in events} == _rejected_ids(run)
    assert len(events) == 20
    where = {(r.partition, r.offset) for r in run.published}
    for line in events:
        assert line["level"] == "warning"
        assert (line["partition"], line["offset"]) in where
        assert line["topic"] == run.topic
        assert line["status"] == 201
        assert "rejects signals for" in line["server_said"]
        assert "injected_rejection" in line["server_said"]
    assert receiver.app.ledger.count(201) == 60


@pytest.mark.parametrize("transport", ["aiohttp", "pyreqwest"])
async def test_with_dead_letter_rejected_each_rejection_is_also_a_dead_letter(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver, transport: str
) -> None:
    """RELAY_DEAD_LETTER_REJECTED=true: the 20 rejections are also dead letters `rejected`."""
    run = await _relay_60(
        kafka_bootstrap,
        new_topic,
        receiver,
        RELAY_DEAD_LETTER_REJECTED="true",
        OUTBOUND_HTTP_TRANSPORT=transport,
    )

    assert run.outcomes == {"delivered": 40, "rejected": 20}
    assert run.dlq_by_reason == {"rejected": 20}
    assert run.committed == run.log_end
    assert len(run.dead_letters) == 20
    rejected_values = {r.value for r in run.published if r.key and r.key.decode() in REJECTED}
    for letter in run.dead_letters:
        headers = dict(letter.headers)
        assert letter.value in rejected_values
        assert headers["dlq.reason"] == b"rejected"
        assert headers["dlq.http.status"] == b"201"
        assert b'"status":"rejected"' in headers["dlq.http.body"]
        assert headers["dlq.signal_id"] == expected_signal_id(letter.value).encode()
        assert headers["dlq.attempts"] == b"1"
    assert len([line for line in run.logs if line["event"] == "rejected"]) == 20
