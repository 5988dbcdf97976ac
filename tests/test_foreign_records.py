"""Records librdkafka wrote, in every codec: valid ones delivered, odd ones dead-lettered, all done.

40 valid signals over a 3-partition topic with, in the middle of the same multi-record
batches, the shapes other clients write: a binary key, a null key, repeated and null-valued
headers, a tombstone, invalid JSON, a schema violation.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field

import orjson
import pytest
from aiokafka.structs import ConsumerRecord
from conftest import RunningReceiver, TopicFactory, eventually_async
from foreign_producer import CODECS, Codec, ForeignRecord, Landed, batch_shapes, produce_foreign
from relay_harness import encode, expected_signal_id, relay_settings, running_relay, signal

from consumer.tools import committed_offsets, read_topic

INSTRUMENTS = [f"FX{i}" for i in range(8)]
PER_INSTRUMENT = 5  # 40 valid signals
HEADERS: list[tuple[str, bytes | None]] = [("trace", b"1"), ("trace", b"2"), ("empty", None)]


@dataclass(frozen=True, slots=True)
class Shape:
    """One kind of record and what must become of it (`reason` None: delivered)."""

    name: str
    record: ForeignRecord
    reason: str | None


def _odd_shapes() -> list[Shape]:
    return [
        Shape("binary key", ForeignRecord(b"\x00\xff\x80bin", encode(signal("BINKEY", 0))), None),
        Shape("null key", ForeignRecord(None, encode(signal("NULLKEY", 0))), None),
        Shape(
            "null+repeated headers",
            ForeignRecord(b"HDRS", encode(signal("HDRS", 0)), HEADERS),
            None,
        ),
        Shape("tombstone", ForeignRecord(b"FX0", None, HEADERS), "invalid_json"),
        Shape("invalid JSON", ForeignRecord(b"\xfe\xff", b'{"instrument": "FX1",'), "invalid_json"),
        Shape(
            "schema violation",
            ForeignRecord(b"FX2", encode(signal("FX2", 99, side="hold"))),
            "invalid_schema",
        ),
    ]


def _stream() -> list[Shape]:
    valid = [
        Shape("valid", ForeignRecord(inst.encode(), encode(signal(inst, seq))), None)
        for seq in range(PER_INSTRUMENT)
        for inst in INSTRUMENTS
    ]
    half = len(valid) // 2
    return valid[:half] + _odd_shapes() + valid[half:]


def _ends(landed: list[Landed]) -> dict[int, int]:
    ends: dict[int, int] = {}
    for record in landed:
        ends[record.partition] = max(ends.get(record.partition, 0), record.offset + 1)
    return ends


def _original_headers(record: ForeignRecord) -> list[tuple[str, bytes]]:
    # The DLQ writer keeps header order and repeats; a null value comes back as b"".
    return [(name, b"" if value is None else value) for name, value in record.headers]


@pytest.mark.parametrize("codec", CODECS)
async def test_foreign_records_in_every_codec(
    codec: Codec, kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver
) -> None:
    """Per codec: valid records delivered in key order, odd ones dead-lettered, all committed."""
    topic = await new_topic(3)
    dlq = f"{topic}.dlq"
    shapes = _stream()
    landed = await asyncio.to_thread(
        produce_foreign, kafka_bootstrap, topic, [s.record for s in shapes], codec=codec
    )
    ends = _ends(landed)
    for partition, end in ends.items():
        shapes_held = await batch_shapes(kafka_bootstrap, topic, partition, end)
        # librdkafka's batches, not one record each: the odd records share a batch with valid ones.
        assert {b.codec for b in shapes_held} == {codec}
        assert max(b.records for b in shapes_held) > 1, shapes_held
    settings = relay_settings(kafka_bootstrap, topic, receiver.url)
    ledger = receiver.app.ledger
    expected_ids = [expected_signal_id(s.record.value or b"") for s in shapes if s.reason is None]

    async def all_committed() -> bool:
        return await committed_offsets(kafka_bootstrap, settings.group_id, topic) == ends

    async with running_relay(settings):
        await eventually_async(all_committed, 60, f"{codec}: every partition committed to {ends}")
    committed = await committed_offsets(kafka_bootstrap, settings.group_id, topic)
    letters = await read_topic(kafka_bootstrap, dlq)
    accepted = ledger.accepted

    table = _tally(shapes, landed, accepted_ids={a.signal_id for a in accepted}, letters=letters)
    print(f"\n{codec}: committed {committed} vs log end {ends}")
    for name, row in table.items():
        print(f"{codec:6} {name:22} {row}")

    assert sorted(a.signal_id for a in accepted) == sorted(expected_ids)
    assert ledger.status_counts == {201: len(expected_ids)}
    sequences: dict[str, list[int]] = defaultdict(list)
    for a in accepted:
        sequences[a.instrument].append(int(orjson.loads(a.body)["note"].removeprefix("seq=")))
    assert all(sequences[inst] == list(range(PER_INSTRUMENT)) for inst in INSTRUMENTS)
    _assert_dead_letters(topic, shapes, landed, letters)


@dataclass(slots=True)
class Row:
    """One line of the report: what became of the records of one shape."""

    published: int = 0
    delivered: int = 0
    dead: list[str] = field(default_factory=list)


def _tally(
    shapes: list[Shape],
    landed: list[Landed],
    *,
    accepted_ids: set[str],
    letters: list[ConsumerRecord],
) -> dict[str, Row]:
    """Per record shape: published, delivered, dead-lettered (with reasons)."""
    dead = {_source(letter): _reason(letter) for letter in letters}
    table: dict[str, Row] = {}
    for shape, where in zip(shapes, landed, strict=True):
        row = table.setdefault(shape.name, Row())
        row.published += 1
        if shape.reason is None and expected_signal_id(shape.record.value or b"") in accepted_ids:
            row.delivered += 1
        reason = dead.get((where.partition, where.offset))
        if reason is not None:
            row.dead.append(reason)
    return table


def _source(letter: ConsumerRecord) -> tuple[int, int]:
    headers = dict(letter.headers)
    return int(headers["dlq.source.partition"]), int(headers["dlq.source.offset"])


def _reason(letter: ConsumerRecord) -> str:
    reason: bytes = dict(letter.headers)["dlq.reason"]
    return reason.decode()


def _assert_dead_letters(
    topic: str, shapes: list[Shape], landed: list[Landed], letters: list[ConsumerRecord]
) -> None:
    odd = {(w.partition, w.offset): s for s, w in zip(shapes, landed, strict=True) if s.reason}
    by_source = {_source(letter): letter for letter in letters}
    assert len(letters) == len(odd), [_source(letter) for letter in letters]
    assert set(by_source) == set(odd)
    for source, shape in odd.items():
        letter = by_source[source]
        headers = list(letter.headers)
        named = dict(headers)
        assert named["dlq.reason"] == (shape.reason or "").encode(), shape.name
        assert named["dlq.source.topic"] == topic.encode()
        assert letter.key == shape.record.key, shape.name
        assert letter.value == shape.record.value, shape.name
        original = _original_headers(shape.record)
        assert headers[: len(original)] == original, shape.name
        assert all(name.startswith("dlq.") for name, _ in headers[len(original) :])
