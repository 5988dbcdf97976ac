"""Every use of aiokafka's private surface, in one place, each with a contract test.

aiokafka's public API has no way to: read a partition's fetch position without waiting, read a
committed offset's metadata, send a Fetch of our own, or read a record batch leniently. The
relay needs all four (the fetch guard, commit-metadata resume), so this module holds each
private attribute it touches behind a small function; `tests/test_aiokafka_private.py` checks
every one of them against the installed aiokafka, so that an upgrade that moves one fails one
test, not a relay in production. Supported: every aiokafka `pyproject.toml` admits (0.12-0.14).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CorruptRecordException, KafkaError, for_code
from aiokafka.protocol import fetch as _fetch
from aiokafka.record.control_record import ABORT_MARKER, ControlRecord
from aiokafka.record.default_records import _DefaultRecordBatchPy
from aiokafka.record.legacy_records import LegacyRecordBatch
from aiokafka.record.util import decode_varint
from aiokafka.structs import OffsetAndMetadata

__all__ = [
    "CODEC_ERRORS",
    "CODEC_NAMES",
    "RawFetch",
    "committed_with_metadata",
    "decode_varint",
    "fetch_position",
    "fetch_raw",
    "is_abort_marker",
    "legacy_records",
    "records_view",
    "v2_batch",
]

# A v2 batch's compression attribute -> the codec's name (aiokafka's extras carry the same).
CODEC_NAMES = {1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}

# What aiokafka's snappy, lz4 and zstd decoders (cramjam) raise on a payload that does not
# decompress; none when the library is missing (aiokafka then raises UnsupportedCodecError).
CODEC_ERRORS: tuple[type[Exception], ...]
try:
    from cramjam import DecompressionError as _DecompressionError
except ImportError:  # the install without the codec extras
    CODEC_ERRORS = ()
else:
    CODEC_ERRORS = (_DecompressionError,)

# The Fetch version this module builds on aiokafka 0.12, whose FetchRequest is a list of
# versions; v4 is the first with an isolation level (every Kafka since 0.11 answers it).
_LIST_FETCH_VERSION = 4


def fetch_position(consumer: AIOKafkaConsumer, tp: TopicPartition) -> int | None:
    """The next offset `consumer` fetches of `tp`; None when unassigned or not known yet.

    `AIOKafkaConsumer.position()` waits (up to the request timeout) while the position is
    unknown; the fetch loop needs the figure at once, with no suspension in which a rebalance
    or a seek could move it.
    """
    subscription = getattr(consumer._subscription, "subscription", None)
    assignment = getattr(subscription, "assignment", None)
    if assignment is None:
        return None
    state = assignment.state_value(tp)
    if state is None or not state.has_valid_position:
        return None
    position: int = state.position
    return position


async def committed_with_metadata(
    consumer: AIOKafkaConsumer, tps: Collection[TopicPartition]
) -> dict[TopicPartition, OffsetAndMetadata]:
    """The group's committed offset and metadata of each of `tps` (absent: never committed).

    aiokafka's public `committed()` drops the metadata of the OffsetFetch answer; its group
    coordinator returns both.
    """
    coordinator = consumer._coordinator
    fetched: Mapping[TopicPartition, OffsetAndMetadata] = await coordinator.fetch_committed_offsets(
        list(tps)
    )
    return {
        tp: each
        for tp, each in fetched.items()
        if isinstance(each, OffsetAndMetadata) and each.offset >= 0
    }


@dataclass(frozen=True, slots=True)
class RawFetch:
    """One partition of a Fetch answer, undecoded.

    Attributes:
        message_set: the record batches as the broker stores them (the last may be partial).
        aborted: (producer id, first offset) of the aborted transactions in that range; only
            asked for under `read_committed`.
    """

    message_set: bytes
    aborted: tuple[tuple[int, int], ...]


async def fetch_raw(
    consumer: AIOKafkaConsumer,
    tp: TopicPartition,
    offset: int,
    *,
    isolation_level: int,
    max_bytes: int,
    max_wait_ms: int,
) -> RawFetch:
    """One Fetch of `tp` from `offset`, through the consumer's own connections and metadata."""
    client = consumer._client
    node = client.cluster.leader_for_partition(tp)
    if node is None or node < 0:
        raise KafkaError(f"no leader known for {tp}")
    topics = [(tp.topic, [(tp.partition, offset, max_bytes)])]
    request: Any
    if isinstance(_fetch.FetchRequest, list):  # aiokafka 0.12: a struct per version
        request = _fetch.FetchRequest[_LIST_FETCH_VERSION](
            -1, max_wait_ms, 1, max_bytes, isolation_level, topics
        )
    else:  # 0.13 on: a builder, its version negotiated per connection
        request = _fetch.FetchRequest(max_wait_ms, 1, max_bytes, isolation_level, topics)
    response = await client.send(node, request)
    version: int = response.API_VERSION
    for topic, partitions in response.topics:
        for fields in partitions:
            partition, error_code = fields[0], fields[1]
            if topic != tp.topic or partition != tp.partition:
                continue
            if error_code:
                raise for_code(error_code)(f"raw fetch of {tp} at {offset}")
            message_set = fields[-1]
            return RawFetch(bytes(message_set) if message_set else b"", _aborted(version, fields))
    return RawFetch(b"", ())


def _aborted(version: int, fields: tuple[Any, ...]) -> tuple[tuple[int, int], ...]:
    """The aborted transactions of a partition's Fetch answer (v4: 5th field, v5 on: 6th)."""
    if version < 4:
        return ()
    listed = fields[4] if version == 4 else fields[5]
    return tuple((int(pid), int(first)) for pid, first in listed or ())


def v2_batch(frame: memoryview | bytes) -> Any:
    """aiokafka's pure-Python reader of one v2 record batch (header fields, CRC, codecs)."""
    return _DefaultRecordBatchPy(frame)


def records_view(batch: Any) -> tuple[bytearray, int, int]:
    """(buffer, position of the first record, record count) of a v2 batch, decompressed.

    Raises aiokafka's `UnsupportedCodecError` when the batch's codec library is missing, and
    whatever the codec raises on a corrupt payload.
    """
    batch._maybe_uncompress()
    return batch._buffer, batch._pos, batch._num_records


def is_abort_marker(batch: Any) -> bool:
    """True when a control batch carries a transaction's ABORT marker."""
    record = next(iter(batch), None)
    return record is not None and ControlRecord.parse(record.key) == ABORT_MARKER


def legacy_records(frame: memoryview | bytes, magic: int) -> Iterator[Any]:
    """The records of a v0/v1 message set, checked; raises on a bad CRC."""
    batch = LegacyRecordBatch(frame, magic)
    if not batch.validate_crc():
        raise CorruptRecordException("invalid CRC")
    yield from batch
