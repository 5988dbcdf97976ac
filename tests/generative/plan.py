"""What a seed's stream holds: records of every kind, in chunks, and when to kill a relay."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

import orjson
from foreign_producer import CODECS, Codec
from raw_records import BAD_HEADER_KEY
from relay_harness import signal

Kind = Literal["valid", "bad_json", "schema", "tombstone", "oversized", "bad_header", "bad_crc"]

REASON: dict[Kind, str | None] = {
    "valid": None,
    "bad_json": "invalid_json",
    "schema": "invalid_schema",
    "tombstone": "invalid_json",
    "oversized": "too_large",
    "bad_header": "undecodable",
    "bad_crc": "undecodable",
}
MAX_BODY_SIZE = 4096
_CLIENT_KINDS: list[Kind] = ["valid", "bad_json", "schema", "tombstone", "oversized"]
_CLIENT_WEIGHTS = [80, 5, 5, 5, 5]
_RAW_CHUNK_ODDS = 0.15
_BAD_CRC_ODDS = 0.3
TRACE_HEADER = b"trace-id"


@dataclass(frozen=True, slots=True)
class PlannedRecord:
    """One record of the stream and the partition it goes to (its key's)."""

    kind: Kind
    key: bytes
    value: bytes | None
    headers: tuple[tuple[bytes, bytes | None], ...]
    partition: int

    @property
    def reason(self) -> str | None:
        """The DLQ reason it must get; None for a record that must be delivered."""
        return REASON[self.kind]


@dataclass(frozen=True, slots=True)
class Chunk:
    """Records produced together: one librdkafka flush in `codec`, or one hand-built batch.

    Attributes:
        records: In production order.
        raw: True for a hand-built batch (one partition, uncompressed), written by Produce.
        codec: librdkafka's compression for a client chunk.
        corrupt_crc: A raw batch whose CRC is wrong: all its records are undecodable.
    """

    records: tuple[PlannedRecord, ...]
    raw: bool
    codec: Codec
    corrupt_crc: bool = False


@dataclass(frozen=True, slots=True)
class StreamPlan:
    """A seed's stream and its chaos.

    Attributes:
        seed: What it was drawn from.
        partitions: Of the source topic.
        keys: Instruments, each a key; key `i` goes to partition `i % partitions`.
        chunks: In production order.
        kills: Fractions of the valid signals delivered at which one relay is SIGKILLed.
        relays: Relay processes running at once.
    """

    seed: int
    partitions: int
    keys: tuple[str, ...]
    chunks: tuple[Chunk, ...]
    kills: tuple[float, ...]
    relays: int

    @property
    def records(self) -> list[PlannedRecord]:
        """Every record in production order."""
        return [record for chunk in self.chunks for record in chunk.records]


def draw_plan(seed: int, size: int, *, kills: int, relays: int) -> StreamPlan:
    """The stream of about `size` records and `kills` relay kills that `seed` stands for."""
    rng = random.Random(seed)
    partitions = rng.choice([3, 4, 6])
    keys = tuple(f"G{i:02d}" for i in range(rng.randint(partitions, 4 * partitions)))
    sequences = dict.fromkeys(keys, 0)
    chunks: list[Chunk] = []
    count = 0
    while count < size:
        chunk = (
            _raw_chunk(rng, keys, partitions, sequences)
            if (rng.random() < _RAW_CHUNK_ODDS)
            else _client_chunk(rng, keys, partitions, sequences)
        )
        chunks.append(chunk)
        count += len(chunk.records)
    kill_points = tuple(sorted(rng.uniform(0.1, 0.7) for _ in range(kills)))
    return StreamPlan(seed, partitions, keys, tuple(chunks), kill_points, relays)


def _client_chunk(
    rng: random.Random, keys: tuple[str, ...], partitions: int, sequences: dict[str, int]
) -> Chunk:
    records = []
    for _ in range(rng.randint(1, 40)):
        kind = rng.choices(_CLIENT_KINDS, _CLIENT_WEIGHTS)[0]
        index = rng.randrange(len(keys))
        records.append(_record(rng, kind, keys[index], index % partitions, sequences))
    return Chunk(tuple(records), raw=False, codec=rng.choice(CODECS))


def _raw_chunk(
    rng: random.Random, keys: tuple[str, ...], partitions: int, sequences: dict[str, int]
) -> Chunk:
    partition = rng.randrange(partitions)
    own = [i for i in range(len(keys)) if i % partitions == partition]
    corrupt = rng.random() < _BAD_CRC_ODDS
    size = rng.randint(1, 5)
    bad_at = rng.randrange(size)
    records = []
    for position in range(size):
        index = rng.choice(own)
        kind: Kind = (
            "bad_crc"
            if corrupt
            else ("bad_header" if position == bad_at or rng.random() < 0.2 else "valid")
        )
        records.append(_record(rng, kind, keys[index], partition, sequences))
    return Chunk(tuple(records), raw=True, codec="none", corrupt_crc=corrupt)


def _record(
    rng: random.Random, kind: Kind, instrument: str, partition: int, sequences: dict[str, int]
) -> PlannedRecord:
    seq = sequences[instrument]
    sequences[instrument] = seq + 1
    body = signal(instrument, seq, side=rng.choice(["buy", "sell"]))
    if body["side"] == "sell":
        body.update(stop_loss="101", take_profit="98.5")
    headers: tuple[tuple[bytes, bytes | None], ...] = ((TRACE_HEADER, str(seq).encode()),)
    value: bytes | None = orjson.dumps(body)
    if kind == "bad_json":
        value = value[: rng.randrange(1, len(value) - 1)] if value else value
    elif kind == "schema":
        value = orjson.dumps({**body, "confidence": "1.5"})
    elif kind == "tombstone":
        value = None
        headers += ((b"empty", None),)
    elif kind == "oversized":
        value = orjson.dumps(
            {**body, "padding": "x" * rng.randint(MAX_BODY_SIZE, 3 * MAX_BODY_SIZE)}
        )
    elif kind == "bad_header":
        headers = ((BAD_HEADER_KEY, b"x"), *headers)
    return PlannedRecord(kind, instrument.encode(), value, headers, partition)
