"""Records written by another client: librdkafka (confluent-kafka's Producer) as a test producer.

aiokafka's producer cannot make some of what other clients put on a topic: a snappy, lz4 or
zstd batch written by librdkafka's own codecs, large multi-record batches shaped by
`linger.ms` / `batch.num.messages`, null-valued header values. The idempotent producer stays
off: Tansu hands out no producer ids. Only the Producer is used; librdkafka's consumer groups
do not work against Tansu, so tests read back with aiokafka.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiokafka import AIOKafkaClient, TopicPartition
from aiokafka.protocol.fetch import FetchRequest
from confluent_kafka import KafkaError, Message, Producer

Codec = Literal["none", "gzip", "snappy", "lz4", "zstd"]
CODECS: tuple[Codec, ...] = ("none", "gzip", "snappy", "lz4", "zstd")
_DELIVERY_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class ForeignRecord:
    """One record to produce.

    Attributes:
        key: Any bytes, or None for a null key.
        value: Any bytes, or None for a tombstone.
        headers: In order; a name may repeat and a value may be None.
        partition: The partition to write to; None lets librdkafka's partitioner choose.
    """

    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes | None]] = field(default=())
    partition: int | None = None


@dataclass(frozen=True, slots=True)
class Landed:
    """Where a produced record landed."""

    record: ForeignRecord
    partition: int
    offset: int


class ForeignProduceError(AssertionError):
    """librdkafka reported a record as not delivered."""


def produce_foreign(
    bootstrap: str,
    topic: str,
    records: Sequence[ForeignRecord],
    *,
    codec: Codec = "none",
    linger_ms: int = 50,
    batch_messages: int = 10_000,
) -> list[Landed]:
    """Produce `records` in order with librdkafka, flush, and return where each one landed.

    Blocking (librdkafka has its own threads): call it through `asyncio.to_thread`. A long
    `linger_ms` with a large `batch_messages` packs the records of one partition into few
    multi-record batches, each compressed whole with `codec`.
    """
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "compression.type": codec,
            "linger.ms": linger_ms,
            "batch.num.messages": batch_messages,
            "enable.idempotence": False,
            "acks": "all",
            # One request in flight per broker: a retried batch cannot overtake the next one.
            "max.in.flight.requests.per.connection": 1,
            "partitioner": "murmur2_random",
        }
    )
    reports: dict[int, tuple[int, int]] = {}
    errors: list[str] = []

    def on_delivery(index: int) -> Callable[[KafkaError | None, Message], None]:
        def report(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                errors.append(f"record {index}: {error}")
                return
            partition, offset = message.partition(), message.offset()
            assert partition is not None
            assert offset is not None
            reports[index] = (partition, offset)

        return report

    for index, record in enumerate(records):
        producer.produce(
            topic,
            value=record.value,
            key=record.key,
            # -1: librdkafka's partitioner chooses.
            partition=-1 if record.partition is None else record.partition,
            headers=list(record.headers),
            on_delivery=on_delivery(index),
        )
        producer.poll(0)
    left = producer.flush(_DELIVERY_TIMEOUT_SECONDS)
    if left or errors or len(reports) != len(records):
        raise ForeignProduceError(
            f"{left} record(s) still queued, {len(records) - len(reports)} undelivered: "
            + "; ".join(errors[:5])
        )
    return [Landed(record, *reports[index]) for index, record in enumerate(records)]


@dataclass(frozen=True, slots=True)
class BatchShape:
    """How the broker holds one record batch: its offsets, record count and codec."""

    base_offset: int
    records: int
    codec: Codec


_CODEC_BY_ATTRIBUTE: dict[int, Codec] = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
_BATCH_HEADER = struct.Struct(">qiibIhi")  # base offset .. last offset delta
_RECORD_COUNT_AT = 57


async def batch_shapes(bootstrap: str, topic: str, partition: int, end: int) -> list[BatchShape]:
    """The record batches of `topic`/`partition` below offset `end`, read with raw Fetches."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    try:
        await client._wait_on_metadata(topic)
        node = client.cluster.leader_for_partition(TopicPartition(topic, partition))
        shapes: list[BatchShape] = []
        offset = 0
        while offset < end:
            wanted = [(topic, [(partition, offset, 1 << 22)])]
            if isinstance(FetchRequest, list):  # aiokafka 0.12: a struct per version
                request = FetchRequest[4](-1, 500, 1, 1 << 22, 0, wanted)
            else:
                request = FetchRequest(500, 1, 1 << 22, 0, wanted)
            response: Any = await client.send(node, request)
            data: bytes = response.topics[0][1][0][-1] or b""
            found = _parse_batches(data)
            if not found:
                raise AssertionError(f"no batch fetched at {topic}/{partition}@{offset}")
            shapes.extend(found)
            offset = found[-1].base_offset + found[-1].records
        return shapes
    finally:
        await client.close()


def _parse_batches(data: bytes) -> list[BatchShape]:
    shapes = []
    at = 0
    while at + _RECORD_COUNT_AT + 4 <= len(data):
        base, length, _, _, _, attributes, _ = _BATCH_HEADER.unpack_from(data, at)
        if at + 12 + length > len(data):
            break  # a partial batch at the end of the fetch
        (count,) = struct.unpack_from(">i", data, at + _RECORD_COUNT_AT)
        shapes.append(BatchShape(base, count, _CODEC_BY_ATTRIBUTE[attributes & 0x7]))
        at += 12 + length
    return shapes
