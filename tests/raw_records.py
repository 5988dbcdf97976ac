"""Records aiokafka's producer cannot make: a v2 batch written by hand, sent as a raw Produce.

The producer only takes `str` header keys; to put a non-UTF-8 header key on the broker, a batch
is built with a placeholder key of the same length, the bytes are patched and the CRC is
recomputed, then the batch goes out in a ProduceRequest through an `AIOKafkaClient`.
"""

from __future__ import annotations

import struct
from typing import Any

from aiokafka import AIOKafkaClient, AIOKafkaConsumer, TopicPartition
from aiokafka.protocol.produce import ProduceRequest
from aiokafka.record.default_records import _DefaultRecordBatchBuilderPy
from aiokafka.record.util import calc_crc32c

BAD_HEADER_KEY = b"bad-\xff\xfe-key"  # not UTF-8
_ATTRIBUTES_OFFSET = struct.calcsize(">qiibI")
_CRC_OFFSET = struct.calcsize(">qiib")


def batch_with_header_key(
    key: bytes | None,
    value: bytes | None,
    header_key: bytes,
    header_value: bytes = b"x",
    *,
    corrupt_crc: bool = False,
) -> bytes:
    """A one-record v2 batch whose header key is `header_key` (any bytes)."""
    return raw_batch([(key, value, [(header_key, header_value)])], corrupt_crc=corrupt_crc)


def raw_batch(
    records: list[tuple[bytes | None, bytes | None, list[tuple[bytes, bytes]]]],
    *,
    corrupt_crc: bool = False,
) -> bytes:
    """A v2 batch (base offset 0) of (key, value, headers); header keys are any bytes."""
    builder = _DefaultRecordBatchBuilderPy(
        magic=2,
        compression_type=0,
        is_transactional=0,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 20,
    )
    patches: list[tuple[bytes, bytes]] = []
    for offset, (key, value, headers) in enumerate(records):
        named: list[tuple[str, bytes | None]] = []
        for index, (name, header_value) in enumerate(headers):
            placeholder = f"~{offset}.{index}~".ljust(len(name), "~")
            assert len(placeholder) == len(name), "header key too short for a placeholder"
            patches.append((placeholder.encode(), name))
            named.append((placeholder, header_value))
        builder.append(offset, None, key, value, named)
    buffer = bytearray(builder.build())
    for placeholder_bytes, name in patches:
        assert buffer.count(placeholder_bytes) == 1
        at = buffer.index(placeholder_bytes, _ATTRIBUTES_OFFSET)
        buffer[at : at + len(name)] = name
    crc = calc_crc32c(bytes(buffer[_ATTRIBUTES_OFFSET:]))
    if corrupt_crc:
        crc ^= 0xFFFF
    struct.pack_into(">I", buffer, _CRC_OFFSET, crc)
    return bytes(buffer)


async def produce_raw(bootstrap: str, topic: str, partition: int, batch: bytes) -> int:
    """Append a raw record batch to `topic`/`partition` (acks=all); return its base offset."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    try:
        await client._wait_on_metadata(topic)
        node = client.cluster.leader_for_partition(TopicPartition(topic, partition))
        # aiokafka 0.12's ProduceRequest is a list of versions: v3 is the first for v2 batches.
        make = ProduceRequest[3] if isinstance(ProduceRequest, list) else ProduceRequest
        request = make(None, -1, 30000, [(topic, [(partition, batch)])])
        response: Any = await client.send(node, request)
        ((name, partitions),) = response.topics
        answer = partitions[0]
        assert name == topic
        assert answer[0] == partition, answer
        assert answer[1] == 0, f"produce error code {answer[1]}"
        base_offset: int = answer[2]
        return base_offset
    finally:
        await client.close()


async def produce_bad_header_key(
    bootstrap: str, topic: str, key: bytes | None, value: bytes, partition: int = 0
) -> int:
    """One record whose header key is not UTF-8; returns its offset."""
    return await produce_raw(
        bootstrap, topic, partition, batch_with_header_key(key, value, BAD_HEADER_KEY)
    )


async def read_back_error(bootstrap: str, topic: str, partition: int, offset: int) -> BaseException:
    """What aiokafka raises when it reads `offset` (fails the test if it decodes it)."""
    tp = TopicPartition(topic, partition)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        consumer.seek(tp, offset)
        try:
            while True:
                batch = await consumer.getmany(tp, timeout_ms=10000)
                if not batch:
                    raise AssertionError("nothing fetched")
                records = batch[tp]
                if any(r.offset >= offset for r in records):
                    raise AssertionError(f"aiokafka decoded the record: {records}")
        except (UnicodeDecodeError, ValueError) as exc:
            return exc
    finally:
        await consumer.stop()


# -- hand-built v2 batches at chosen offsets (transactions, control markers, corrupt payloads) --

HEADER_SIZE = 61  # a v2 batch's header: the records (or the compressed payload) start here
TRANSACTIONAL = 0x10
CONTROL = 0x20
LOG_APPEND_TIME = 0x08
ABORT = 0
COMMIT = 1
_TIMESTAMP = 1_700_000_000_000


def with_crc(batch: bytes | bytearray) -> bytes:
    """`batch` with its CRC recomputed over its (possibly patched) bytes."""
    buffer = bytearray(batch)
    struct.pack_into(">I", buffer, _CRC_OFFSET, calc_crc32c(bytes(buffer[_ATTRIBUTES_OFFSET:])))
    return bytes(buffer)


def v2_batch_at(
    base_offset: int,
    records: list[tuple[bytes | None, bytes | None]],
    *,
    codec: int = 0,
    producer_id: int = -1,
    transactional: bool = False,
    control: bool = False,
    log_append_time: bool = False,
    first_timestamp: int = _TIMESTAMP,
) -> bytes:
    """A v2 batch of (key, value) records at `base_offset` (record i stamped first + i ms).

    `codec` is a compression attribute (1 gzip .. 4 zstd); the values must compress, or the
    builder would store them plain. `control` and `log_append_time` set the bits only a broker
    sets; the CRC is recomputed after.
    """
    builder = _DefaultRecordBatchBuilderPy(
        magic=2,
        compression_type=codec,
        is_transactional=int(transactional),
        producer_id=producer_id,
        producer_epoch=0 if producer_id >= 0 else -1,
        base_sequence=0 if producer_id >= 0 else -1,
        batch_size=1 << 20,
    )
    for delta, (key, value) in enumerate(records):
        builder.append(delta, first_timestamp + delta, key, value, [])
    buffer = bytearray(builder.build())
    (attributes,) = struct.unpack_from(">h", buffer, _ATTRIBUTES_OFFSET)
    assert attributes & 0x07 == codec, f"codec {codec} not used: the values do not compress"
    attributes |= (CONTROL if control else 0) | (LOG_APPEND_TIME if log_append_time else 0)
    struct.pack_into(">h", buffer, _ATTRIBUTES_OFFSET, attributes)
    struct.pack_into(">q", buffer, 0, base_offset)  # outside the CRC: the broker assigns it
    return with_crc(buffer)


def control_batch(base_offset: int, producer_id: int, marker: int) -> bytes:
    """A transaction marker of `producer_id`: `ABORT` or `COMMIT` (control key version 0)."""
    key = struct.pack(">hh", 0, marker)
    value = struct.pack(">hi", 0, 0)  # version, coordinator epoch
    return v2_batch_at(
        base_offset, [(key, value)], producer_id=producer_id, transactional=True, control=True
    )


def compressible_values(count: int, seq: int = 0) -> list[bytes]:
    """`count` record values that every codec shrinks (so the builder keeps the codec)."""
    return [(b'{"instrument":"EURUSD","note":"seq=%d"}' % (seq + i)) * 8 for i in range(count)]


def corrupt_payload(batch: bytes) -> bytes:
    """`batch` with its compressed payload's first bytes flipped and its CRC made right again.

    The codec's own header (gzip and lz4/zstd frame magic, snappy's xerial header) is what is
    broken, so that decompression fails for every codec rather than yielding other bytes.
    """
    buffer = bytearray(batch)
    for at in range(HEADER_SIZE, HEADER_SIZE + 4):
        buffer[at] ^= 0xA5
    return with_crc(buffer)


def bad_crc(batch: bytes) -> bytes:
    """`batch` with a CRC that does not match its bytes."""
    buffer = bytearray(batch)
    buffer[_CRC_OFFSET] ^= 0xFF
    return bytes(buffer)


def at_offset(batch: bytes, base_offset: int) -> bytes:
    """`batch` moved to `base_offset` (the base offset is outside the CRC)."""
    buffer = bytearray(batch)
    struct.pack_into(">q", buffer, 0, base_offset)
    return bytes(buffer)
