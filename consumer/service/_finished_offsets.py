"""Which offsets above a committed one are already final: the commit metadata's codec.

A commit says "every offset below N is final"; records finish out of order, so some above N
are final too. They travel in the same commit's metadata string, so that the partition's next
owner skips them instead of sending them again (docs/PROTOCOL.md §8, issue 11 item 5).

Format: ``sr1:<N>:<ranges>``. ``<N>`` is the committed offset in decimal (the metadata is
ignored unless it matches the offset it was committed with); ``<ranges>`` is URL-safe base64
(no padding) of unsigned LEB128 varints, alternately the gap from the end of the previous
range (the first from N) and the length of a run of final offsets; both are at least 1.

The string is bounded (`METADATA_LIMIT`, the broker's default `offset.metadata.max.bytes`): the
lowest ranges that fit are kept and the rest are re-sent after a restart, as before. Anything
that does not parse exactly (another tool's metadata, an older version's, garbage) decodes to
no ranges at all: never skip on doubt.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence

__all__ = ["METADATA_LIMIT", "OffsetRange", "decode_finished", "encode_finished", "runs"]

METADATA_LIMIT = 4096
"""Bytes of commit metadata at most: Kafka's default `offset.metadata.max.bytes`."""

_PREFIX = "sr1:"
# Decoding never builds more ranges than an encoding within the limit could hold.
_MAX_RANGES = METADATA_LIMIT

OffsetRange = tuple[int, int]
"""Final offsets ``start <= offset < end``."""


def runs(offsets: Iterable[int]) -> list[OffsetRange]:
    """Sorted, distinct `offsets` as maximal half-open ranges."""
    ranges: list[OffsetRange] = []
    for offset in sorted(set(offsets)):
        if ranges and ranges[-1][1] == offset:
            ranges[-1] = (ranges[-1][0], offset + 1)
        else:
            ranges.append((offset, offset + 1))
    return ranges


def encode_finished(base: int, ranges: Sequence[OffsetRange], limit: int = METADATA_LIMIT) -> str:
    """The metadata for a commit at `base` whose final offsets above it are `ranges`.

    `ranges` must be sorted, disjoint, non-adjacent and above `base`. Empty when there is
    nothing above or not even the prefix fits `limit`; otherwise the lowest ranges that fit.
    """
    head = f"{_PREFIX}{base}:"
    room = (limit - len(head)) * 3 // 4  # varint bytes that fit once base64-encoded
    if not ranges or room <= 0:
        return ""
    body = bytearray()
    previous = base
    for start, end in ranges:
        if start <= previous or end <= start:
            raise ValueError(f"range {start}-{end} is not above {previous}")
        pair = _varint(start - previous) + _varint(end - start)
        if len(body) + len(pair) > room:
            break
        body += pair
        previous = end
    if not body:
        return ""
    return head + base64.urlsafe_b64encode(bytes(body)).decode("ascii").rstrip("=")


def decode_finished(committed: int, metadata: str | None) -> tuple[OffsetRange, ...]:
    """The final ranges above `committed` that `metadata` records; () unless it parses exactly."""
    if not metadata or not metadata.startswith(_PREFIX) or len(metadata) > METADATA_LIMIT:
        return ()
    base_text, sep, encoded = metadata[len(_PREFIX) :].partition(":")
    if not sep or not base_text.isdigit() or int(base_text) != committed:
        return ()
    try:
        raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), altchars=b"-_", validate=True)
        numbers = _varints(raw)
    except (binascii.Error, ValueError):
        return ()
    if not numbers or len(numbers) % 2 or len(numbers) > 2 * _MAX_RANGES:
        return ()
    ranges: list[OffsetRange] = []
    previous = committed
    for gap, length in zip(numbers[::2], numbers[1::2], strict=True):
        if gap < 1 or length < 1:
            return ()
        start = previous + gap
        ranges.append((start, start + length))
        previous = start + length
    return tuple(ranges)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _varints(raw: bytes) -> list[int]:
    numbers: list[int] = []
    value = shift = 0
    for byte in raw:
        value |= (byte & 0x7F) << shift
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")
        if not byte & 0x80:
            numbers.append(value)
            value = shift = 0
    if shift:
        raise ValueError("truncated varint")
    return numbers
