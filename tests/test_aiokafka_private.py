"""aiokafka's private surface, one contract test per attribute the relay relies on.

Each test's docstring opens with the name it pins (`consumer/adapters/_aiokafka_private.py`),
so that an aiokafka upgrade that moves one of them fails here, naming it, and not in a relay.
`committed_with_metadata` is pinned by tests/test_resume_private_api.py (against a group).
"""

import ast
import gzip
import re
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import aiokafka.codec
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import (
    CorruptRecordException,
    KafkaError,
    OffsetOutOfRangeError,
    UnsupportedCodecError,
)
from aiokafka.record.default_records import DefaultRecordBase
from aiokafka.record.legacy_records import LegacyRecordBatchBuilder
from aiokafka.record.util import encode_varint
from conftest import TopicFactory, eventually_async
from hypothesis import given
from hypothesis import strategies as st
from raw_records import (
    ABORT,
    COMMIT,
    HEADER_SIZE,
    bad_crc,
    compressible_values,
    control_batch,
    v2_batch_at,
    with_crc,
)
from relay_harness import publish

import consumer.adapters._aiokafka_private as private
from consumer.adapters._aiokafka_private import (
    CODEC_ERRORS,
    CODEC_NAMES,
    RawFetch,
    decode_varint,
    fetch_position,
    fetch_raw,
    is_abort_marker,
    legacy_records,
    records_view,
    v2_batch,
)

ROOT = Path(__file__).resolve().parent.parent
KEY = b"EURUSD"
P = 4242
PINNED_ELSEWHERE = {"committed_with_metadata": "tests/test_resume_private_api.py"}
# Not aiokafka's: the module's own value type.
OWN = {"RawFetch"}


@pytest.fixture
async def consumer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaConsumer]:
    """A started consumer without a group (assign only)."""
    started = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


def _frames(message_set: bytes) -> list[bytes]:
    frames, pos = [], 0
    while len(message_set) - pos >= 12:
        _, length = struct.unpack_from(">qi", message_set, pos)
        if pos + 12 + length > len(message_set):
            break
        frames.append(message_set[pos : pos + 12 + length])
        pos += 12 + length
    return frames


# -- I/O: against the session's broker --------------------------------------------------------


async def test_fetch_position_is_unknown_then_known_then_the_consumers_position(
    kafka_bootstrap: str, new_topic: TopicFactory, consumer: AIOKafkaConsumer
) -> None:
    """`fetch_position`: None unassigned or not reset yet; then aiokafka's position, unwaited."""
    topic = await new_topic(2)
    landed = await publish(kafka_bootstrap, topic, [(KEY, b"a"), (KEY, b"b"), (KEY, b"c")])
    partition = landed[0].partition  # one key: one partition
    tp, other = TopicPartition(topic, partition), TopicPartition(topic, 1 - partition)
    assert fetch_position(consumer, tp) is None  # nothing assigned
    consumer.assign([tp])
    assert fetch_position(consumer, other) is None  # not this consumer's
    await consumer.seek_to_beginning(tp)
    assert fetch_position(consumer, tp) == 0

    taken: list[int] = []

    async def fetched_some() -> bool:
        fetched = await consumer.getmany(tp, timeout_ms=500)
        taken.extend(r.offset for r in fetched.get(tp, []))
        return bool(taken)

    await eventually_async(fetched_some, 30, "records fetched")
    assert fetch_position(consumer, tp) == await consumer.position(tp)
    assert fetch_position(consumer, tp) == taken[-1] + 1


async def test_fetch_raw_returns_the_stored_batches_at_both_isolation_levels(
    kafka_bootstrap: str, new_topic: TopicFactory, consumer: AIOKafkaConsumer
) -> None:
    """`fetch_raw`: the batches from an offset, whole, under isolation 0 and 1; none aborted."""
    topic = await new_topic(1)
    values = [b"v%d" % i for i in range(5)]
    await publish(kafka_bootstrap, topic, [(KEY, v) for v in values[:2]])
    await publish(kafka_bootstrap, topic, [(KEY, v) for v in values[2:]])
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    await consumer.seek_to_beginning(tp)
    for isolation in (0, 1):
        for start in (0, 3):
            got = await fetch_raw(
                consumer, tp, start, isolation_level=isolation, max_bytes=1 << 20, max_wait_ms=500
            )
            assert isinstance(got, RawFetch)
            assert got.aborted == ()  # no transactions on this topic (Tansu has none at all)
            batches = [v2_batch(frame) for frame in _frames(got.message_set)]
            assert batches, f"isolation {isolation} from {start}: nothing fetched"
            assert batches[0].base_offset <= start < batches[0].next_offset
            assert batches[-1].next_offset == len(values)
            records = [r for batch in batches for r in batch]
            assert [(r.offset, r.value) for r in records][-2:] == [(3, b"v3"), (4, b"v4")]


async def test_fetch_raw_raises_a_kafka_error_for_a_partition_it_cannot_fetch(
    kafka_bootstrap: str, new_topic: TopicFactory, consumer: AIOKafkaConsumer
) -> None:
    """`fetch_raw`: a partition without a known leader is a KafkaError (the guard's retry)."""
    topic = await new_topic(1)
    await publish(kafka_bootstrap, topic, [(KEY, b"a")])
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    await consumer.seek_to_beginning(tp)
    for unknown in (TopicPartition(topic, 7), TopicPartition(f"{topic}-absent", 0)):
        with pytest.raises(KafkaError):
            await fetch_raw(consumer, unknown, 0, isolation_level=1, max_bytes=1024, max_wait_ms=1)


async def test_fetch_raw_past_the_end_raises_out_of_range_or_returns_nothing(
    kafka_bootstrap: str, new_topic: TopicFactory, consumer: AIOKafkaConsumer
) -> None:
    """`fetch_raw`: an offset past the log end is OffsetOutOfRange (Kafka) or empty (Tansu)."""
    topic = await new_topic(1)
    await publish(kafka_bootstrap, topic, [(KEY, b"a")])
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    await consumer.seek_to_beginning(tp)
    try:
        got = await fetch_raw(
            consumer, tp, 1000, isolation_level=1, max_bytes=1 << 20, max_wait_ms=100
        )
    except OffsetOutOfRangeError:
        return
    assert got == RawFetch(b"", ())


# -- record batches: aiokafka's pure-Python readers --------------------------------------------


def test_v2_batch_reads_every_header_field_the_decoder_uses() -> None:
    """`v2_batch`: base/next offset, CRC, control, transactional, producer, codec, timestamps."""
    values = compressible_values(3)
    built = v2_batch_at(
        100,
        [(KEY, v) for v in values],
        codec=1,
        producer_id=P,
        transactional=True,
        log_append_time=True,
        first_timestamp=5000,
    )
    batch = v2_batch(memoryview(built))
    assert (batch.base_offset, batch.next_offset) == (100, 103)
    assert batch.validate_crc() is True
    assert v2_batch(bad_crc(built)).validate_crc() is False
    assert (batch.is_transactional, batch.is_control_batch, batch.producer_id) == (True, False, P)
    assert batch.compression_type == DefaultRecordBase.CODEC_GZIP
    assert batch.LOG_APPEND_TIME == 1
    assert batch.timestamp_type == batch.LOG_APPEND_TIME
    assert (batch.first_timestamp, batch.max_timestamp) == (5000, 5002)
    plain = v2_batch(v2_batch_at(7, [(KEY, b"x")], first_timestamp=9))
    assert (plain.is_transactional, plain.producer_id, plain.compression_type) == (False, -1, 0)
    assert plain.timestamp_type == 0 != plain.LOG_APPEND_TIME
    marker = v2_batch(control_batch(8, P, COMMIT))
    assert (marker.is_control_batch, marker.is_transactional, marker.producer_id) == (True, True, P)


@pytest.mark.parametrize("codec", sorted(CODEC_NAMES), ids=sorted(CODEC_NAMES.values()))
def test_records_view_decompresses_each_codec(codec: int) -> None:
    """`records_view`: a compressed batch's buffer is the plain batch's records, from 0."""
    records: list[tuple[bytes | None, bytes | None]] = [(KEY, v) for v in compressible_values(4)]
    plain = v2_batch_at(0, records)
    compressed = v2_batch_at(0, records, codec=codec)
    assert v2_batch(compressed).compression_type == codec

    buffer, pos, count = records_view(v2_batch(compressed))

    assert (pos, count) == (0, 4)
    assert bytes(buffer) == plain[HEADER_SIZE:]
    length, after = decode_varint(buffer, pos)
    assert after + length <= len(buffer)


def test_records_view_of_a_plain_batch_starts_after_the_header() -> None:
    """`records_view`: an uncompressed batch's records start at byte 61 of the batch itself."""
    plain = v2_batch_at(0, [(KEY, b"a"), (KEY, b"b")])
    buffer, pos, count = records_view(v2_batch(plain))
    assert (bytes(buffer), pos, count) == (plain, HEADER_SIZE, 2)


def test_records_view_raises_unsupported_codec_for_unknown_codec_bits() -> None:
    """`records_view`: codec bits aiokafka does not know raise UnsupportedCodecError."""
    buffer = bytearray(v2_batch_at(0, [(KEY, b"a")]))
    buffer[22] |= 0x07
    with pytest.raises(UnsupportedCodecError):
        records_view(v2_batch(with_crc(buffer)))


def test_is_abort_marker_tells_abort_from_commit() -> None:
    """`is_abort_marker`: True for an ABORT control record (version 0, type 0), not COMMIT."""
    assert is_abort_marker(v2_batch(control_batch(0, P, ABORT))) is True
    assert is_abort_marker(v2_batch(control_batch(0, P, COMMIT))) is False


@pytest.mark.parametrize("magic", [0, 1])
def test_legacy_records_reads_plain_and_compressed_message_sets(magic: int) -> None:
    """`legacy_records`: a v0/v1 message, or a gzip wrapper's messages at absolute offsets."""
    stamps = {0: None, 1: 1000}
    for codec in (0, 1):
        builder = LegacyRecordBatchBuilder(magic=magic, compression_type=codec, batch_size=1 << 20)
        # As a broker stores them from offset 20: a v1 wrapper's inner offsets are relative.
        relative = magic == 1 and codec != 0
        for i in range(3):
            offset = i if relative else 20 + i
            builder.append(offset, timestamp=stamps[magic] and 1000 + i, key=KEY, value=b"v%d" % i)
        frames = _frames(bytes(builder.build()))
        if codec:  # the wrapper sits at its last inner record's offset
            (wrapper,) = frames
            frames = [struct.pack(">q", 22) + wrapper[8:]]
        got = [r for frame in frames for r in legacy_records(frame, magic)]
        assert [(r.offset, r.key, r.value) for r in got] == [
            (20 + i, KEY, b"v%d" % i) for i in range(3)
        ]
        assert got[0].timestamp == stamps[magic]


def test_legacy_records_raises_on_a_bad_crc() -> None:
    """`legacy_records`: a v1 message whose CRC does not match raises CorruptRecordException."""
    builder = LegacyRecordBatchBuilder(magic=1, compression_type=0, batch_size=1 << 20)
    builder.append(0, timestamp=1, key=KEY, value=b"v")
    frame = bytearray(builder.build())
    frame[-1] ^= 0xFF
    with pytest.raises(CorruptRecordException):
        list(legacy_records(bytes(frame), 1))


@pytest.mark.parametrize("name", ["snappy", "lz4", "zstd"])
def test_codec_errors_are_what_aiokafkas_decoders_raise_on_a_broken_payload(name: str) -> None:
    """`CODEC_ERRORS`: cramjam's error, raised by aiokafka's snappy/lz4/zstd decoders."""
    decode = getattr(aiokafka.codec, f"{name}_decode")
    broken = bytes(getattr(aiokafka.codec, f"{name}_encode")(b"signal" * 50))[:-8] + b"\xff" * 8
    with pytest.raises(CODEC_ERRORS):
        decode(b"\xff\xfe\xfd" + broken)


def test_codec_names_match_aiokafkas_codec_constants_and_extras() -> None:
    """`CODEC_NAMES`: aiokafka's CODEC_* attribute values, and its has_<name> codec checks."""
    constants = {
        DefaultRecordBase.CODEC_GZIP: "gzip",
        DefaultRecordBase.CODEC_SNAPPY: "snappy",
        DefaultRecordBase.CODEC_LZ4: "lz4",
        DefaultRecordBase.CODEC_ZSTD: "zstd",
    }
    assert constants == CODEC_NAMES
    for name in CODEC_NAMES.values():
        assert callable(getattr(aiokafka.codec, f"has_{name}"))
    assert gzip.decompress(aiokafka.codec.gzip_encode(b"x")) == b"x"


@given(st.integers(-(2**63), 2**63 - 1), st.binary(max_size=4))
def test_decode_varint_reads_kafkas_zigzag_varints(value: int, prefix: bytes) -> None:
    """`decode_varint`: (value, position after it) of aiokafka's own encoding, at any offset."""
    buffer = bytearray(prefix)
    encode_varint(value, buffer.append)
    assert decode_varint(buffer, len(prefix)) == (value, len(buffer))


# -- the surface as a whole -------------------------------------------------------------------


def _pinned() -> set[str]:
    tree = ast.parse(Path(__file__).read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef):
            doc = ast.get_docstring(node) or ""
            names.update(re.findall(r"^`(\w+)`:", doc))
    return names


def _imported_from_private() -> set[str]:
    """Names the rest of `consumer/` imports from the private module."""
    names: set[str] = set()
    for path in (ROOT / "consumer").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == private.__name__:
                names.update(alias.name for alias in node.names)
    return names


def test_every_name_of_the_private_surface_has_a_contract_test() -> None:
    """Each name the module exports or others import from it is pinned by one test."""
    surface = (set(private.__all__) | _imported_from_private()) - OWN
    for name, where in PINNED_ELSEWHERE.items():
        assert f"{name}(" in (ROOT / where).read_text(), f"{where} no longer pins {name}"
    unpinned = surface - _pinned() - set(PINNED_ELSEWHERE)
    assert not unpinned, f"no contract test names {sorted(unpinned)}"


def test_what_others_import_from_the_private_module_is_in_its_all() -> None:
    """The module's `__all__` lists every name the rest of the relay takes from it."""
    assert _imported_from_private() <= set(private.__all__)


def test_no_other_relay_module_reaches_into_aiokafka_internals() -> None:
    """Outside the private module (and the dev kit), no import of aiokafka's record/protocol."""
    internal = re.compile(r"^aiokafka\.(record|protocol|conn|codec|util)\b")
    offenders = []
    for path in (ROOT / "consumer").rglob("*.py"):
        relative = path.relative_to(ROOT)
        if path.name == "_aiokafka_private.py" or relative.parts[1] == "devkit":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and internal.match(node.module or ""):
                offenders.append(f"{relative}:{node.lineno} {node.module}")
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aiokafka"):
                offenders += [
                    f"{relative}:{node.lineno} {alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_")
                ]
    assert not offenders
