"""Records the Kafka client cannot decode: found, read as far as possible, never a stop.

aiokafka decodes a fetched batch record by record inside `getmany`. A header key that is not
UTF-8, a batch with a bad CRC, a broken record structure or a codec it lacks makes it raise
mid-batch; what it had already taken in that call is lost from the return value (also for the
other partitions drained in the same call, whose positions already moved on), and the next
call raises again on the same bytes: a relay that let it propagate would exit on every start.

`FetchGuard.getmany` wraps the fetch. On such an error it:

1. seeks every assigned partition back to the offset after the last record the relay
   submitted to its current lane (`note_submitted`), or, for a lane given nothing yet, to the
   fetch position seen before the call (else the group's committed offset, else the position);
   so nothing the failed call swallowed (for any partition) is skipped;
2. reads each fetchable partition's raw bytes from that offset (one Fetch request through the
   consumer's own client) and decodes them here, leniently, batch by batch, up to and including
   the first batch aiokafka cannot decode;
3. returns those records, in offset order, as the fetch result: the valid ones as ordinary
   `ConsumerRecord`s, the broken ones as `UndecodableRecord`s (whatever could be read: key,
   value, headers with keys decoded with `errors="backslashreplace"`, plus the `error`), and
   seeks the partition past that batch. The relay submits them like any record; `RecordFlow`
   dead-letters an `UndecodableRecord` with reason `undecodable`, then it is committed.

A batch aiokafka cannot even frame (a broken record structure, a missing codec) yields one
`UndecodableRecord` at its last offset with no content, so that its commit covers the batch.
When the rescue itself fails (the broker does not answer, nothing undecodable is found), it is
logged and retried after a bounded backoff; the positions were already moved back, so nothing
is lost, and the relay never crashes on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CorruptRecordException, KafkaError, UnsupportedCodecError, for_code
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.record.default_records import _DefaultRecordBatchPy
from aiokafka.record.legacy_records import LegacyRecordBatch
from aiokafka.record.util import decode_varint
from aiokafka.structs import ConsumerRecord

__all__ = ["UNDECODABLE_ERRORS", "FetchGuard", "UndecodableRecord", "decode_raw"]

_log = logging.getLogger("signal_relay.undecodable")

# What aiokafka raises from `getmany` when it cannot decode fetched bytes.
UNDECODABLE_ERRORS: tuple[type[BaseException], ...] = (
    CorruptRecordException,
    UnsupportedCodecError,
    ValueError,  # UnicodeDecodeError among them
    IndexError,
    struct.error,
)

_LOG_OVERHEAD = 12  # base offset (int64) + length (int32)
_MAGIC_OFFSET = 16  # + partition leader epoch (int32)
_MAX_ERROR = 500
_RESCUE_FETCH_BYTES = 4 * 1024 * 1024
_RESCUE_TIMEOUT = 30.0
# Not 0: Tansu answers a zero-wait fetch with no partitions at all.
_RESCUE_FETCH_WAIT_MS = 500
_BACKOFF_FIRST = 0.5
_BACKOFF_MAX = 30.0

Record = Any  # a ConsumerRecord[bytes, bytes] (aiokafka ships no types) or an UndecodableRecord


@dataclass(frozen=True, slots=True)
class UndecodableRecord:
    """A record the Kafka client could not decode: its coordinates and what could be read."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    timestamp_type: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    error: str


class _Unframed(Exception):
    """A record inside a batch could not be read at all; the rest of the batch is lost too."""


@dataclass(frozen=True, slots=True)
class _Raw:
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    problem: str | None  # why aiokafka cannot decode it; None when it can


def _read_records(batch: _DefaultRecordBatchPy) -> Iterator[_Raw]:
    """The records of a v2 batch, like aiokafka's reader but header keys never fail."""
    buffer: bytearray = batch._buffer
    pos: int = batch._pos
    log_append = batch.timestamp_type == batch.LOG_APPEND_TIME
    for _ in range(batch._num_records):
        try:
            length, pos = decode_varint(buffer, pos)
            start = pos
            _, pos = decode_varint(buffer, pos)  # attributes
            ts_delta, pos = decode_varint(buffer, pos)
            offset_delta, pos = decode_varint(buffer, pos)
            key, pos = _read_bytes(buffer, pos)
            value, pos = _read_bytes(buffer, pos)
            count, pos = decode_varint(buffer, pos)
            if count < 0:
                raise _Unframed(f"invalid header count {count}")
            headers: list[tuple[str, bytes | None]] = []
            problem: str | None = None
            for _ in range(count):
                raw_key, pos = _read_bytes(buffer, pos)
                if raw_key is None:
                    raise _Unframed("negative header key size")
                try:
                    name = raw_key.decode("utf-8")
                except UnicodeDecodeError as exc:
                    name = raw_key.decode("utf-8", "backslashreplace")
                    problem = problem or f"header key {name!r} is not UTF-8: {exc}"
                header_value, pos = _read_bytes(buffer, pos)
                headers.append((name, header_value))
            if pos - start != length or pos > len(buffer):
                raise _Unframed(f"record size {length} does not match its content")
        except (ValueError, IndexError) as exc:
            raise _Unframed(f"invalid record structure: {exc!r}") from exc
        yield _Raw(
            offset=batch.base_offset + offset_delta,
            timestamp=batch.max_timestamp if log_append else batch.first_timestamp + ts_delta,
            key=key,
            value=value,
            headers=tuple(headers),
            problem=problem,
        )


def _read_bytes(buffer: bytearray, pos: int) -> tuple[bytes | None, int]:
    size, pos = decode_varint(buffer, pos)
    if size < 0:
        return None, pos
    if pos + size > len(buffer):
        raise IndexError("field runs past the end of the batch")
    return bytes(buffer[pos : pos + size]), pos + size


def _consumer_record(tp: TopicPartition, ts_type: int, raw: _Raw) -> Record:
    return ConsumerRecord(
        tp.topic,
        tp.partition,
        raw.offset,
        raw.timestamp,
        ts_type,
        raw.key,
        raw.value,
        None,
        len(raw.key) if raw.key is not None else -1,
        len(raw.value) if raw.value is not None else -1,
        raw.headers,
    )


def _undecodable(tp: TopicPartition, ts_type: int, raw: _Raw, error: str) -> UndecodableRecord:
    return UndecodableRecord(
        topic=tp.topic,
        partition=tp.partition,
        offset=raw.offset,
        timestamp=raw.timestamp,
        timestamp_type=ts_type,
        key=raw.key,
        value=raw.value,
        headers=raw.headers,
        error=error[:_MAX_ERROR],
    )


def _blank(tp: TopicPartition, offset: int, error: str) -> UndecodableRecord:
    return UndecodableRecord(tp.topic, tp.partition, offset, -1, -1, None, None, (), error)


def _frames(data: bytes) -> Iterator[tuple[int, memoryview]]:
    """(base offset, bytes) of each complete batch in a fetched message set."""
    view = memoryview(data)
    pos = 0
    while len(data) - pos >= _LOG_OVERHEAD:
        base, length = struct.unpack_from(">qi", data, pos)
        end = pos + _LOG_OVERHEAD + length
        if length < 0 or end > len(data):
            return  # a partial batch at the end of the fetch: the next fetch has it whole
        yield base, view[pos:end]
        pos = end


def _decode_v2(tp: TopicPartition, frame: memoryview, start: int) -> tuple[list[Record], bool, int]:
    """(records at offsets >= start, whether aiokafka fails on this batch, next offset)."""
    batch = _DefaultRecordBatchPy(frame)
    next_offset: int = batch.next_offset
    crc_ok = batch.validate_crc()
    if crc_ok and batch.is_control_batch:
        return [], False, next_offset
    ts_type: int = batch.timestamp_type
    out: list[Record] = []
    bad = not crc_ok
    last = start - 1
    try:
        batch._maybe_uncompress()
        for raw in _read_records(batch):
            last = max(last, raw.offset)
            problem = raw.problem or (None if crc_ok else "invalid CRC: the batch is corrupt")
            bad = bad or problem is not None
            if raw.offset < start:
                continue  # aiokafka decodes it too: it still makes the batch fail
            if problem is None:
                out.append(_consumer_record(tp, ts_type, raw))
            else:
                out.append(_undecodable(tp, ts_type, raw, problem))
    except (_Unframed, KafkaError, AssertionError, RuntimeError, ValueError, OSError) as exc:
        # Nothing more of this batch can be read; one dead letter stands for the rest of it.
        tail = next_offset - 1
        if tail > last and tail >= start:
            error = f"records {last + 1}..{tail} unreadable: {type(exc).__name__}: {exc}"
            out.append(_blank(tp, tail, error[:_MAX_ERROR]))
        return out, True, next_offset
    return out, bad, next_offset


def _decode_legacy(
    tp: TopicPartition, frame: memoryview, base: int, magic: int, start: int
) -> tuple[list[Record], bool, int]:
    """Message format v0/v1 (no headers): aiokafka's reader, or one dead letter if it fails."""
    try:
        batch = LegacyRecordBatch(frame, magic)
        if not batch.validate_crc():
            raise CorruptRecordException("invalid CRC")
        records = list(batch)
    except Exception as exc:  # whatever aiokafka raises on these bytes, it is undecodable
        error = f"legacy message set unreadable: {type(exc).__name__}: {exc}"
        return [_blank(tp, base, error[:_MAX_ERROR])] if base >= start else [], True, base + 1
    out: list[Record] = []
    next_offset = base + 1
    for r in records:
        next_offset = max(next_offset, r.offset + 1)
        if r.offset >= start:
            raw = _Raw(r.offset, r.timestamp, r.key, r.value, (), None)
            out.append(_consumer_record(tp, r.timestamp_type, raw))
    return out, False, next_offset


def decode_raw(tp: TopicPartition, data: bytes, start: int) -> tuple[list[Record], int] | None:
    """Decode a fetched message set from `start` up to the first batch aiokafka cannot decode.

    Returns the records at offsets >= `start` up to the end of that batch, and the offset after
    it; None if every batch here decodes (aiokafka's own fetch can take them).
    """
    out: list[Record] = []
    for base, frame in _frames(data):
        magic = frame[_MAGIC_OFFSET]
        if magic >= 2:
            try:
                records, bad, next_offset = _decode_v2(tp, frame, start)
            except (struct.error, ValueError, IndexError) as exc:
                error = f"record batch unreadable: {type(exc).__name__}: {exc}"
                records, bad, next_offset = [_blank(tp, max(base, start), error)], True, base + 1
        else:
            records, bad, next_offset = _decode_legacy(tp, frame, base, magic, start)
        out.extend(records)
        if bad:
            return out, max(next_offset, start)
    return None


class FetchGuard:
    """`getmany` for the relay that turns undecodable records into `UndecodableRecord`s."""

    def __init__(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        self._consumer = consumer
        self._stop = stop
        # tp -> (the lane object it was submitted to, offset after the last submitted record)
        self._next: dict[TopicPartition, tuple[object, int]] = {}
        # tp -> (lane, fetch position seen before a fetch) for lanes given nothing yet
        self._before: dict[TopicPartition, tuple[object, int]] = {}
        self._failures = 0

    def note_submitted(self, tp: TopicPartition, lane: object, next_offset: int) -> None:
        """The relay handed `lane` the records of `tp` below `next_offset`."""
        self._next[tp] = (lane, next_offset)

    async def getmany(
        self, lanes: Mapping[TopicPartition, object], *, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[Record]]:
        """`consumer.getmany`, with undecodable records rescued instead of raised."""
        self._snapshot(lanes)
        try:
            batch: dict[TopicPartition, list[Record]] = await self._consumer.getmany(
                timeout_ms=timeout_ms, max_records=max_records
            )
        except UNDECODABLE_ERRORS as exc:
            return await self._rescue(lanes, exc)
        self._failures = 0
        return batch

    async def _rescue(
        self, lanes: Mapping[TopicPartition, object], exc: BaseException
    ) -> dict[TopicPartition, list[Record]]:
        error = f"{type(exc).__name__}: {exc}"[:_MAX_ERROR]
        _log.warning("undecodable_fetch", extra={"fields": {"error": error}})
        try:
            async with asyncio.timeout(_RESCUE_TIMEOUT):
                found = await self._rescue_once(lanes)
        except (KafkaError, TimeoutError, OSError) as failure:
            found, error = {}, f"{error}; rescue failed: {type(failure).__name__}: {failure}"
        if found:
            self._failures = 0
            for tp, records in found.items():
                _log.warning(
                    "undecodable_records",
                    extra={
                        "fields": {
                            "partition": tp.partition,
                            "offsets": [
                                r.offset for r in records if isinstance(r, UndecodableRecord)
                            ],
                        }
                    },
                )
            return found
        self._failures += 1
        delay = min(_BACKOFF_MAX, _BACKOFF_FIRST * 2 ** (self._failures - 1))
        _log.error(
            "undecodable_rescue_failed",
            extra={
                "fields": {
                    "error": error[:_MAX_ERROR],
                    "attempt": self._failures,
                    "retry_in_s": delay,
                }
            },
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), delay)
        return {}

    async def _rescue_once(
        self, lanes: Mapping[TopicPartition, object]
    ) -> dict[TopicPartition, list[Record]]:
        consumer = self._consumer
        assigned = sorted(consumer.assignment(), key=lambda tp: (tp.topic, tp.partition))
        starts: dict[TopicPartition, int] = {}
        for tp in assigned:
            start = await self._safe_offset(tp, lanes.get(tp))
            if start is not None:
                consumer.seek(tp, start)
                starts[tp] = start
        paused = consumer.paused()
        found: dict[TopicPartition, list[Record]] = {}
        for tp, start in starts.items():
            if tp in paused:
                continue
            data = await self._fetch_raw(tp, start)
            decoded = decode_raw(tp, data, start) if data else None
            if decoded is None:
                continue
            records, next_offset = decoded
            consumer.seek(tp, next_offset)
            if records:
                found[tp] = records
        return found

    def _snapshot(self, lanes: Mapping[TopicPartition, object]) -> None:
        """Remember where lanes that were given nothing yet are fetched from (no I/O)."""
        subscription = getattr(self._consumer._subscription, "subscription", None)
        assignment = getattr(subscription, "assignment", None)
        if assignment is None:
            return
        for tp, lane in lanes.items():
            noted = self._next.get(tp)
            before = self._before.get(tp)
            if (noted is not None and noted[0] is lane) or (
                before is not None and before[0] is lane
            ):
                continue  # an earlier position of the same lane is as safe (never later)
            state = assignment.state_value(tp)
            if state is not None and state.has_valid_position:
                self._before[tp] = (lane, state.position)

    async def _safe_offset(self, tp: TopicPartition, lane: object | None) -> int | None:
        """Where `tp` must be read from again so that nothing the failed call took is lost."""
        for known in (self._next.get(tp), self._before.get(tp)):
            if known is not None and lane is not None and known[0] is lane:
                return known[1]
        # Nothing submitted to this lane yet: its fetch started at the committed offset.
        committed: int | None = await self._consumer.committed(tp)
        if committed is not None and committed >= 0:
            return committed
        position: int = await self._consumer.position(tp)
        return position

    async def _fetch_raw(self, tp: TopicPartition, offset: int) -> bytes:
        client = self._consumer._client  # the consumer's own connections and metadata
        node = client.cluster.leader_for_partition(tp)
        if node is None or node < 0:
            raise KafkaError(f"no leader known for {tp}")
        request = FetchRequest(
            _RESCUE_FETCH_WAIT_MS,  # min bytes 1: answers as soon as it has data
            1,  # min bytes
            _RESCUE_FETCH_BYTES,
            0,  # read_uncommitted, as the relay's consumer
            [(tp.topic, [(tp.partition, offset, _RESCUE_FETCH_BYTES)])],
        )
        response = await client.send(node, request)
        for topic, partitions in _topics(response):
            for partition, error_code, _highwater, *data in partitions:
                if topic != tp.topic or partition != tp.partition:
                    continue
                if error_code:
                    raise for_code(error_code)(f"raw fetch of {tp} at {offset}")
                message_set = data[-1]
                return bytes(message_set) if message_set else b""
        return b""


def _topics(response: Any) -> Iterable[tuple[str, list[Any]]]:
    topics: Iterable[tuple[str, list[Any]]] = response.topics
    return topics
