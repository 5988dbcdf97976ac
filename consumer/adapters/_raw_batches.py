"""Reading fetched record batches leniently: what aiokafka cannot decode, and why.

`decode_raw` reads a partition's fetched bytes batch by batch, as aiokafka would, up to and
including the first batch aiokafka cannot decode, and says what that batch is:

- **a bad record** (a header key that is not UTF-8) or **a bad CRC** whose records can still be
  read: every record comes back, the broken ones as `UndecodableRecord`s with what could be
  read of them (dead-lettered as `undecodable`, each with its own bytes);
- **a corrupt batch** (broken framing, a payload its codec cannot decompress): one
  `UndecodableRecord` stands for the records of it that could not be read, carrying the
  batch's raw bytes and the offsets it covers, so that it can be inspected and replayed;
- **a codec this process lacks**: not bad data but a deployment fault. Nothing of the batch
  is returned; `Decoded.missing_codec` names the codec and `next_offset` is the batch's first
  offset, so that the caller holds the partition there (nothing committed, nothing
  dead-lettered) until the process can read it.

Under `read_committed` the batches of aborted transactions are skipped, as aiokafka's own
fetcher skips them; control batches (transaction markers) are never records.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import UnsupportedCodecError
from aiokafka.structs import ConsumerRecord

from consumer.adapters._aiokafka_private import (
    CODEC_NAMES,
    RawFetch,
    decode_varint,
    is_abort_marker,
    legacy_records,
    records_view,
    v2_batch,
)
from consumer.errors import SignalRelayError

__all__ = ["Decoded", "Record", "UndecodableRecord", "decode_raw"]

_LOG_OVERHEAD = 12  # base offset (int64) + length (int32)
_MAGIC_OFFSET = 16  # + partition leader epoch (int32)
_MAX_ERROR = 500

Record = Any  # a ConsumerRecord[bytes, bytes] (aiokafka ships no types) or an UndecodableRecord


@dataclass(frozen=True, slots=True)
class UndecodableRecord:
    """A record the Kafka client could not decode: its coordinates and what could be read.

    Attributes:
        offset: the offset the record is final at (for a corrupt batch, its last offset).
        first_offset: for a corrupt batch, the first offset the letter stands for; else None.
        key, value, headers: what could be read; for a corrupt batch, no key and the batch's
            raw bytes as the value.
        error: why it could not be decoded.
    """

    topic: str
    partition: int
    offset: int
    timestamp: int
    timestamp_type: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    error: str
    first_offset: int | None = None


@dataclass(frozen=True, slots=True)
class Decoded:
    """What `decode_raw` read of a partition.

    Attributes:
        records: the records at offsets >= the start, in offset order, up to the end of the
            first batch aiokafka cannot decode (or up to the batch with a missing codec).
        next_offset: where fetching continues: past that batch, or, for a missing codec, the
            batch's own first offset.
        missing_codec: the name of the codec the process lacks, when that is what stopped it.
    """

    records: list[Record]
    next_offset: int
    missing_codec: str | None = None


class _Unframed(SignalRelayError):
    """A record inside a batch could not be read at all; the rest of the batch is lost too."""


class _MissingCodec(SignalRelayError):
    """The batch's codec library is not installed in this process."""


@dataclass(frozen=True, slots=True)
class _Raw:
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    problem: str | None  # why aiokafka cannot decode it; None when it can


def decode_raw(
    tp: TopicPartition, fetched: RawFetch | bytes, start: int, *, read_committed: bool = False
) -> Decoded | None:
    """Decode a fetched message set from `start` up to the first batch aiokafka cannot decode.

    None if every batch here decodes (aiokafka's own fetch can take them).
    """
    if isinstance(fetched, bytes):
        fetched = RawFetch(fetched, ())
    aborted = _Aborted(fetched.aborted) if read_committed else None
    out: list[Record] = []
    for base, frame in _frames(fetched.message_set):
        magic = frame[_MAGIC_OFFSET]
        try:
            if magic >= 2:
                records, bad, next_offset = _decode_v2(tp, frame, start, aborted)
            else:
                records, bad, next_offset = _decode_legacy(tp, frame, base, magic, start)
        except _MissingCodec as exc:
            return Decoded(out, max(base, start), missing_codec=str(exc))
        out.extend(records)
        if bad:
            return Decoded(out, max(next_offset, start))
    return None


class _Aborted:
    """Which producers' transactional batches are aborted, as the fetch goes (KIP-98)."""

    def __init__(self, listed: tuple[tuple[int, int], ...]) -> None:
        self._listed = sorted(listed, key=lambda each: each[1])
        self._producers: set[int] = set()

    def skips(self, batch: Any) -> bool:
        """True for a batch of an aborted transaction (and for its ABORT marker's batch)."""
        while self._listed and self._listed[0][1] <= batch.base_offset:
            self._producers.add(self._listed.pop(0)[0])
        if batch.is_control_batch and is_abort_marker(batch):
            self._producers.discard(batch.producer_id)
        return bool(batch.is_transactional and batch.producer_id in self._producers)


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


def _decode_v2(
    tp: TopicPartition, frame: memoryview, start: int, aborted: _Aborted | None
) -> tuple[list[Record], bool, int]:
    """(records at offsets >= start, whether aiokafka fails on this batch, next offset)."""
    try:
        batch = v2_batch(frame)
        base: int = batch.base_offset
        next_offset: int = batch.next_offset
        crc_ok: bool = batch.validate_crc()
    except (struct.error, ValueError, IndexError) as exc:
        base = struct.unpack_from(">q", frame)[0]
        return [_corrupt(tp, frame, max(base, start), max(base, start), exc)], True, base + 1
    # Every batch goes through `skips`, control batches too: an ABORT marker ends a range.
    skipped = crc_ok and aborted is not None and aborted.skips(batch)
    if crc_ok and (batch.is_control_batch or skipped):
        return [], False, next_offset
    ts_type: int = batch.timestamp_type
    out: list[Record] = []
    bad = not crc_ok
    last = start - 1
    try:
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
    except UnsupportedCodecError as exc:
        if crc_ok:
            raise _MissingCodec(_codec_name(batch)) from exc
        # A bad CRC: its codec bits cannot be trusted either; a corrupt batch.
        out.append(_corrupt(tp, frame, max(base, start), next_offset - 1, exc))
        return out, True, next_offset
    except Exception as exc:  # framing, or a codec failing on a corrupt payload (cramjam's own)
        # Nothing more of this batch can be read; one dead letter stands for the rest of it.
        tail = next_offset - 1
        if tail > last and tail >= start:
            out.append(_corrupt(tp, frame, max(last + 1, start, base), tail, exc))
        return out, True, next_offset
    return out, bad, next_offset


def _codec_name(batch: Any) -> str:
    code: int = batch.compression_type
    return CODEC_NAMES.get(code, f"codec {code:#04x}")


def _read_records(batch: Any) -> Iterator[_Raw]:
    """The records of a v2 batch, like aiokafka's reader but header keys never fail."""
    buffer, pos, count = records_view(batch)
    log_append = batch.timestamp_type == batch.LOG_APPEND_TIME
    for _ in range(count):
        try:
            length, pos = decode_varint(buffer, pos)
            begin = pos
            _, pos = decode_varint(buffer, pos)  # attributes
            ts_delta, pos = decode_varint(buffer, pos)
            offset_delta, pos = decode_varint(buffer, pos)
            key, pos = _read_bytes(buffer, pos)
            value, pos = _read_bytes(buffer, pos)
            headers, problem, pos = _read_headers(buffer, pos)
            if pos - begin != length or pos > len(buffer):
                raise _Unframed(f"record size {length} does not match its content")
        except (ValueError, IndexError) as exc:
            raise _Unframed(f"invalid record structure: {exc!r}") from exc
        yield _Raw(
            offset=batch.base_offset + offset_delta,
            timestamp=batch.max_timestamp if log_append else batch.first_timestamp + ts_delta,
            key=key,
            value=value,
            headers=headers,
            problem=problem,
        )
    if pos != len(buffer):  # aiokafka refuses a batch with bytes past its last record
        raise _Unframed(f"{len(buffer) - pos} bytes past the batch's {count} records")


def _read_headers(
    buffer: bytearray, pos: int
) -> tuple[tuple[tuple[str, bytes | None], ...], str | None, int]:
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
    return tuple(headers), problem, pos


def _read_bytes(buffer: bytearray, pos: int) -> tuple[bytes | None, int]:
    size, pos = decode_varint(buffer, pos)
    if size < 0:
        return None, pos
    if pos + size > len(buffer):
        raise IndexError("field runs past the end of the batch")
    return bytes(buffer[pos : pos + size]), pos + size


def _decode_legacy(
    tp: TopicPartition, frame: memoryview, base: int, magic: int, start: int
) -> tuple[list[Record], bool, int]:
    """Message format v0/v1 (no headers): aiokafka's reader, or one dead letter if it fails."""
    try:
        records = list(legacy_records(frame, magic))
    except UnsupportedCodecError as exc:
        raise _MissingCodec(str(exc)) from exc
    except Exception as exc:  # whatever aiokafka raises on these bytes, it is undecodable
        return ([_corrupt(tp, frame, base, base, exc)] if base >= start else []), True, base + 1
    out: list[Record] = []
    next_offset = base + 1
    for r in records:
        next_offset = max(next_offset, r.offset + 1)
        if r.offset >= start:
            raw = _Raw(r.offset, r.timestamp, r.key, r.value, (), None)
            out.append(_consumer_record(tp, r.timestamp_type, raw))
    return out, False, next_offset


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


def _corrupt(
    tp: TopicPartition, frame: memoryview, first: int, last: int, exc: BaseException
) -> UndecodableRecord:
    """One letter for records `first`..`last` of a batch that cannot be read: its raw bytes."""
    what = f"record {first}" if first == last else f"records {first}..{last}"
    error = f"{what} unreadable (corrupt batch): {type(exc).__name__}: {exc}"
    return UndecodableRecord(
        topic=tp.topic,
        partition=tp.partition,
        offset=last,
        timestamp=-1,
        timestamp_type=-1,
        key=None,
        value=bytes(frame),
        headers=(),
        error=error[:_MAX_ERROR],
        first_offset=first,
    )
