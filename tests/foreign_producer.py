"""Records written by another client: librdkafka (confluent-kafka's Producer) as a test producer.

aiokafka's producer cannot make some of what other clients put on a topic: a snappy, lz4 or
zstd batch written by librdkafka's own codecs, large multi-record batches shaped by
`linger.ms` / `batch.num.messages`, null-valued header values. The idempotent producer stays
off: Tansu hands out no producer ids. Only the Producer is used; librdkafka's consumer groups
do not work against Tansu, so tests read back with aiokafka.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

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
            assert partition is not None and offset is not None
            reports[index] = (partition, offset)

        return report

    for index, record in enumerate(records):
        extra = {} if record.partition is None else {"partition": record.partition}
        producer.produce(
            topic,
            value=record.value,
            key=record.key,
            headers=list(record.headers),
            on_delivery=on_delivery(index),
            **extra,
        )
        producer.poll(0)
    left = producer.flush(_DELIVERY_TIMEOUT_SECONDS)
    if left or errors or len(reports) != len(records):
        raise ForeignProduceError(
            f"{left} record(s) still queued, {len(records) - len(reports)} undelivered: "
            + "; ".join(errors[:5])
        )
    return [Landed(record, *reports[index]) for index, record in enumerate(records)]
