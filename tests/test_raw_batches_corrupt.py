"""A truly corrupt batch comes back as one letter: its raw bytes and the offsets it covers."""

import struct

import pytest
from aiokafka import TopicPartition
from raw_records import (
    HEADER_SIZE,
    bad_crc,
    compressible_values,
    corrupt_payload,
    v2_batch_at,
    with_crc,
)

from consumer.adapters import (
    DLQ_MAX_MESSAGE_BYTES,
    DeadLetter,
    UndecodableRecord,
    decode_raw,
    dlq_headers,
    fit_dead_letter,
)
from consumer.adapters._aiokafka_private import CODEC_NAMES, records_view, v2_batch

TP = TopicPartition("t", 0)
KEY = b"EURUSD"
BASE = 10
CODECS = sorted(CODEC_NAMES)
_RECORD_COUNT_OFFSET = HEADER_SIZE - 4


def _batch(base: int, count: int, codec: int = 0, seq: int = 0) -> bytes:
    return v2_batch_at(base, [(KEY, v) for v in compressible_values(count, seq)], codec=codec)


def _letter(records: list[object]) -> UndecodableRecord:
    (letter,) = [r for r in records if isinstance(r, UndecodableRecord)]
    return letter


@pytest.mark.parametrize("codec", CODECS, ids=[CODEC_NAMES[c] for c in CODECS])
def test_a_payload_its_codec_cannot_decompress_is_one_letter(codec: int) -> None:
    """Compressed records 10..12 that will not decompress: one letter, value = the raw batch."""
    corrupt = corrupt_payload(_batch(BASE, 3, codec))
    checked = v2_batch(corrupt)
    assert checked.validate_crc(), "the CRC must pass: only decompression fails"
    with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the codec raises
        records_view(checked)

    decoded = decode_raw(TP, corrupt, BASE)

    assert decoded is not None
    assert decoded.next_offset == BASE + 3
    assert decoded.missing_codec is None
    (letter,) = decoded.records
    assert isinstance(letter, UndecodableRecord)
    assert letter.value == corrupt
    assert letter.key is None
    assert (letter.first_offset, letter.offset) == (BASE, BASE + 2)
    assert "unreadable" in letter.error
    assert f"records {BASE}..{BASE + 2}" in letter.error


def test_a_corrupt_batch_after_valid_ones_letters_only_its_own_offsets() -> None:
    """Valid 0..2, corrupt 3..5, valid 6: the valid ones come back; the letter says 3..5."""
    corrupt = corrupt_payload(_batch(3, 3, codec=1, seq=3))
    data = _batch(0, 3) + corrupt + _batch(6, 1, seq=6)

    decoded = decode_raw(TP, data, 0)

    assert decoded is not None
    assert decoded.next_offset == 6
    assert [r.offset for r in decoded.records] == [0, 1, 2, 5]
    letter = _letter(decoded.records)
    assert letter.value == corrupt
    assert (letter.first_offset, letter.offset) == (3, 5)


def test_a_fetch_from_inside_a_corrupt_batch_letters_the_rest_of_it() -> None:
    """From a commit at 11 (a restart), the letter stands for 11..12 only."""
    corrupt = corrupt_payload(_batch(BASE, 3, codec=1))
    decoded = decode_raw(TP, corrupt, BASE + 1)
    assert decoded is not None
    (letter,) = decoded.records
    assert (letter.first_offset, letter.offset) == (BASE + 1, BASE + 2)
    assert letter.value == corrupt


@pytest.mark.parametrize("codec", CODECS, ids=[CODEC_NAMES[c] for c in CODECS])
def test_a_bad_crc_over_a_readable_compressed_batch_letters_each_record(codec: int) -> None:
    """A CRC mismatch: every record is still read and comes back undecodable, with its value."""
    values = compressible_values(3)
    broken = bad_crc(_batch(BASE, 3, codec))
    decoded = decode_raw(TP, broken, BASE)
    assert decoded is not None
    assert decoded.next_offset == BASE + 3
    assert all(isinstance(r, UndecodableRecord) for r in decoded.records)
    assert [(r.offset, r.value) for r in decoded.records] == list(
        zip(range(BASE, BASE + 3), values, strict=True)
    )
    assert all("CRC" in r.error for r in decoded.records)


def test_a_bad_crc_with_unknown_codec_bits_is_a_corrupt_batch_not_a_missing_codec() -> None:
    """Codec bits 7 under a bad CRC cannot be trusted: a letter, never a codec hold."""
    buffer = bytearray(_batch(BASE, 3, codec=1))
    buffer[22] |= 0x07  # attributes' low byte, without fixing the CRC
    decoded = decode_raw(TP, bytes(buffer), BASE)
    assert decoded is not None
    assert decoded.missing_codec is None
    (letter,) = decoded.records
    assert letter.value == bytes(buffer)
    assert (letter.first_offset, letter.offset) == (BASE, BASE + 2)


def test_a_batch_too_short_for_its_header_is_one_letter() -> None:
    """A length field that leaves no room for a v2 header: a letter with the frame's bytes."""
    frame = bytearray(_batch(BASE, 1)[:42])
    struct.pack_into(">i", frame, 8, len(frame) - 12)
    decoded = decode_raw(TP, bytes(frame), BASE)
    assert decoded is not None
    assert decoded.next_offset == BASE + 1
    (letter,) = decoded.records
    assert letter.value == bytes(frame)
    assert (letter.first_offset, letter.offset) == (BASE, BASE)


def test_a_record_count_above_the_records_present_still_delivers_them() -> None:
    """A count of 5 over 3 records: the 3 come back valid, and the fetch goes past the batch."""
    buffer = bytearray(_batch(BASE, 3))
    struct.pack_into(">i", buffer, _RECORD_COUNT_OFFSET, 5)
    decoded = decode_raw(TP, with_crc(buffer), BASE)
    assert decoded is not None
    assert decoded.next_offset == BASE + 3
    assert [r.offset for r in decoded.records] == [BASE, BASE + 1, BASE + 2]
    assert not any(isinstance(r, UndecodableRecord) for r in decoded.records)


def test_records_past_the_record_count_are_one_letter() -> None:
    """A count of 2 over 3 records (aiokafka fails on the bytes left): 10, 11 valid, 12 a letter."""
    buffer = bytearray(_batch(BASE, 3))
    struct.pack_into(">i", buffer, _RECORD_COUNT_OFFSET, 2)
    broken = with_crc(buffer)

    decoded = decode_raw(TP, broken, BASE)

    assert decoded is not None, "aiokafka cannot read this batch: None leaves the fetch stuck"
    assert decoded.next_offset == BASE + 3
    assert [r.offset for r in decoded.records] == [BASE, BASE + 1, BASE + 2]
    letter = _letter(decoded.records)
    assert (letter.first_offset, letter.offset) == (BASE + 2, BASE + 2)
    assert letter.value == broken


def test_a_corrupt_batch_over_the_letter_limit_is_cut_and_marked() -> None:
    """A letter whose raw batch exceeds the DLQ limit is cut to fit and marked truncated."""
    # Uncompressed: the flipped bytes break the record's own framing, the CRC is right.
    corrupt = corrupt_payload(v2_batch_at(BASE, [(KEY, b"x" * (DLQ_MAX_MESSAGE_BYTES + 4096))]))
    decoded = decode_raw(TP, corrupt, BASE)
    assert decoded is not None
    (letter,) = decoded.records
    assert isinstance(letter, UndecodableRecord)
    dead = DeadLetter("undecodable", letter.error, 0, 0.0, 0.0, first_offset=letter.first_offset)
    headers = dlq_headers(letter.headers, dead, topic="t", partition=0, offset=letter.offset)

    fitted = fit_dead_letter(letter.key, letter.value, headers)

    assert fitted.truncated
    assert fitted.size <= DLQ_MAX_MESSAGE_BYTES
    assert fitted.value is not None
    assert corrupt.startswith(fitted.value)
    got = dict(fitted.headers)
    assert got["dlq.truncated"] == b"true"
    assert got["dlq.original_size"] == str(len(corrupt)).encode()
    assert got["dlq.source.offset"] == str(BASE).encode()
    assert got["dlq.source.first_offset"] == str(BASE).encode()
