"""Undecodable records anywhere in a long stream strand nothing: every partition reaches its end.

300 signals over 200 instruments on 6 partitions, published in a seeded order, with records
whose header key is not UTF-8 in the middle of one partition; first in one, last in another and
twice in a row in a third; in several partitions met by one fetch. The other partitions are
clean. The relay must deliver every valid signal (in key
order), dead-letter exactly the bad records, and commit every partition to its end: also when
the bad records are met right after the assignment (the first fetch), by a restarted member,
and by two members that rebalance while they read the stream.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from dataclasses import dataclass

import pytest
from conftest import RunningReceiver, TopicFactory, eventually_async
from raw_records import produce_bad_header_key
from relay_harness import (
    Published,
    encode,
    expected_signal_id,
    publish,
    relay_settings,
    running_relay,
    signal,
)

from consumer.tools import committed_offsets, read_topic
from signing.receiver.faults import Faults

PARTITIONS = 6
SIGNALS = 300
INSTRUMENTS = 200


@dataclass(frozen=True)
class Stream:
    """What was published: valid records, bad ones (partition, offset), and each end."""

    valid: list[Published]
    bad: set[tuple[int, int]]
    ends: dict[int, int]


# Where the bad records go (partition, where): "first" before any signal of the stream, "middle"
# after half of it, "last" after all of it. Partitions not named stay clean: a fetch that meets
# a bad record also drains clean partitions, whose records must not be skipped.
PLACEMENTS = {
    "one in the middle": [(0, "middle")],
    "first, last, twice in a row": [(0, "first"), (1, "last"), (2, "middle"), (2, "middle")],
    "several partitions in one fetch": [(0, "middle"), (1, "middle"), (2, "middle")],
}


async def _publish_stream(
    bootstrap: str, topic: str, seed: int, placement: list[tuple[int, str]]
) -> Stream:
    rng = random.Random(seed)
    instruments = [f"I{i:03d}" for i in range(INSTRUMENTS)]
    bad: set[tuple[int, int]] = set()
    valid: list[Published] = []

    async def bad_records(where: str) -> None:
        for partition, when in placement:
            if when == where:
                value = encode(signal("BAD", len(bad)))
                offset = await produce_bad_header_key(bootstrap, topic, b"BAD", value, partition)
                bad.add((partition, offset))

    await bad_records("first")
    half = SIGNALS // 2
    for chunk in (range(half), range(half, SIGNALS)):
        records = [
            (inst.encode(), encode(signal(inst, n)))
            for n, inst in zip(chunk, (rng.choice(instruments) for _ in chunk), strict=True)
        ]
        valid += await publish(bootstrap, topic, records)
        if chunk.start == 0:
            await bad_records("middle")
    await bad_records("last")
    ends: dict[int, int] = defaultdict(int)
    for record in valid:
        ends[record.partition] = max(ends[record.partition], record.offset + 1)
    for partition, offset in bad:
        ends[partition] = max(ends[partition], offset + 1)
    return Stream(valid, bad, dict(ends))


async def _check(
    bootstrap: str, topic: str, group: str, stream: Stream, rx: RunningReceiver
) -> None:
    async def at_end() -> bool:
        return await committed_offsets(bootstrap, group, topic) == stream.ends

    await eventually_async(at_end, 90, f"every partition committed to its end {stream.ends}")
    accepted = rx.app.ledger.accepted
    want = {expected_signal_id(r.value): r for r in stream.valid}
    assert {a.signal_id for a in accepted} == set(want), "a valid signal was not delivered"
    first_seen: dict[str, int] = {}
    for a in accepted:
        first_seen.setdefault(a.signal_id, a.sequence)
    by_key: dict[tuple[int, bytes | None], list[Published]] = defaultdict(list)
    for record in stream.valid:
        by_key[(record.partition, record.key)].append(record)
    for records in by_key.values():
        order = [first_seen[expected_signal_id(r.value)] for r in records]
        assert order == sorted(order), "a key's signals were first delivered out of order"
    letters = await read_topic(bootstrap, f"{topic}.dlq")
    dead = {
        (int(dict(x.headers)["dlq.source.partition"]), int(dict(x.headers)["dlq.source.offset"]))
        for x in letters
    }
    assert dead == stream.bad
    assert all(dict(x.headers)["dlq.reason"] == b"undecodable" for x in letters)


@pytest.mark.parametrize("placement", list(PLACEMENTS))
async def test_one_member_reads_past_every_undecodable_record(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver, placement: str
) -> None:
    """The whole stream is there before the relay starts: its first fetches meet the bad ones."""
    topic = await new_topic(PARTITIONS)
    stream = await _publish_stream(kafka_bootstrap, topic, 1, PLACEMENTS[placement])
    settings = relay_settings(kafka_bootstrap, topic, receiver.url)
    async with running_relay(settings):
        await _check(kafka_bootstrap, topic, settings.group_id, stream, receiver)


async def test_restarted_member_reads_past_every_undecodable_record(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver
) -> None:
    """Bad records met again by the next process, from the commits the first one left."""
    topic = await new_topic(PARTITIONS)
    settings = relay_settings(kafka_bootstrap, topic, receiver.url)
    receiver.app.faults = Faults(latency_ms=20)
    async with running_relay(settings):
        stream = await _publish_stream(
            kafka_bootstrap, topic, 2, PLACEMENTS["first, last, twice in a row"]
        )
        await asyncio.to_thread(
            receiver.app.ledger.wait_until, lambda led: led.accepted_count >= 30, 60
        )
    receiver.app.faults = Faults()
    async with running_relay(settings):
        await _check(kafka_bootstrap, topic, settings.group_id, stream, receiver)


async def test_two_members_rebalancing_read_past_every_undecodable_record(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver
) -> None:
    """A second member joins while the first reads: partitions move, none is stranded."""
    topic = await new_topic(PARTITIONS)
    # A slow server keeps the first member busy when the second one joins.
    receiver.app.faults = Faults(latency_ms=20)
    settings = relay_settings(kafka_bootstrap, topic, receiver.url)
    async with running_relay(settings):
        stream = await _publish_stream(
            kafka_bootstrap, topic, 3, PLACEMENTS["several partitions in one fetch"]
        )
        await asyncio.to_thread(
            receiver.app.ledger.wait_until, lambda led: led.accepted_count >= 20, 60
        )
        async with running_relay(settings):
            await _check(kafka_bootstrap, topic, settings.group_id, stream, receiver)
