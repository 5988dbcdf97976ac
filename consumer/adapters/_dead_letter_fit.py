"""A dead letter always fits the DLQ topic (docs/PROTOCOL.md §9.5): the size arithmetic and the cut.

Before a letter is produced its size is estimated exactly as the Kafka client estimates it, and
a letter that would exceed `max_message_bytes` is cut to fit and marked `dlq.truncated: true`
plus `dlq.original_size` (bytes of the original value). What is cut, in this order of sacrifice:

1. the value, down to a prefix (or to `b""` when the headers leave no room for it);
2. original (non-`dlq.*`) headers that do not fit their share of the room, dropped whole;
3. the key, cut to a prefix when it alone takes more than a quarter of the room.

The `dlq.*` headers are authoritative and never dropped (only clipped to 1 KiB each when a
tiny limit leaves no other way).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from consumer.adapters._dead_letter_format import (
    MAX_TEXT_BYTES,
    ORIGINAL_SIZE,
    SOURCE_OFFSET,
    TRUNCATED,
    clip_bytes,
    normalized_headers,
)
from consumer.errors import SignalRelayError

__all__ = [
    "DLQ_MAX_MESSAGE_BYTES",
    "DLQ_MIN_MESSAGE_BYTES",
    "DeadLetterError",
    "FittedLetter",
    "fit_dead_letter",
    "minimal_dead_letter",
    "record_size",
]

DLQ_MAX_MESSAGE_BYTES = 1024 * 1024
"""Default size limit of one dead letter: Kafka's default `max.request.size` (and just under
the broker's default `message.max.bytes`, 1 MiB + 12)."""

DLQ_MIN_MESSAGE_BYTES = 8 * 1024
"""Smallest limit a writer accepts: room for the `dlq.*` headers (each at most 1 KiB)."""

# The client's upper bound for a one-record batch: the v2 batch header (61 bytes) plus the
# record's worst-case fixed overhead (21 bytes). Same as aiokafka's `estimate_size_in_bytes`.
_BATCH_OVERHEAD = 61 + 21

# Slack for varints whose width changes while a letter is cut (key, value, header count).
_VARINT_SLACK = 16


class DeadLetterError(SignalRelayError):
    """A dead letter cannot be written, and writing it again at once will not help (e.g. the
    DLQ topic name is invalid, the producer is not authorized, the broker rejects even a
    minimal letter, the `dlq.*` headers alone exceed the size limit).

    Raised by `DeadLetterWriter.write` (and `fit_dead_letter`) only for such permanent refusals;
    a write that may pass with time is retried inside the writer and never raises this. The
    relay does not stop on it: the record flow treats it as an unexpected error of the record
    (docs/PROTOCOL.md §7.4, §9.6): `record_error` is logged, counted and alerted as a failing
    key, and the record is tried again from the start after a backoff, never given up into the
    DLQ, so its source offset stays uncommitted until the DLQ takes the letter. The Kafka
    error, when there is one, is the `__cause__`.
    """


@dataclass(frozen=True, slots=True)
class FittedLetter:
    """A dead letter as it will be produced: within the size limit, headers normalized.

    Attributes:
        key, value: the bytes to produce (a prefix of the original when cut).
        headers: `str` keys and `bytes` values; `dlq.truncated`/`dlq.original_size` when cut.
        truncated: True when anything of the original (value, key, headers) was cut.
        original_size: bytes of the original value.
    """

    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    truncated: bool
    original_size: int

    @property
    def size(self) -> int:
        """The client's size estimate of this letter (what `max_request_size` is checked on)."""
        return record_size(self.key, self.value, self.headers)


# -- sizes ------------------------------------------------------------------------------------


def _varint_size(n: int) -> int:
    """Bytes of Kafka's zig-zag varint for a non-negative length."""
    z = n << 1
    size = 1
    while z >= 0x80:
        z >>= 7
        size += 1
    return size


def _field_size(data: bytes | None) -> int:
    return 1 if data is None else _varint_size(len(data)) + len(data)


def _header_size(key: str, value: bytes) -> int:
    raw = len(key.encode("utf-8"))
    return _varint_size(raw) + raw + _field_size(value)


def record_size(
    key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]
) -> int:
    """The Kafka client's upper-bound size of a batch holding just this record.

    The same arithmetic as aiokafka's `DefaultRecordBatchBuilder.estimate_size_in_bytes`,
    which the producer compares with `max_request_size`.
    """
    body = sum(_header_size(k, v) for k, v in headers)
    return (
        _BATCH_OVERHEAD + _field_size(key) + _field_size(value) + _varint_size(len(headers)) + body
    )


# -- fitting ----------------------------------------------------------------------------------


def _marked(ours: list[tuple[str, bytes]], original_size: int) -> list[tuple[str, bytes]]:
    """`dlq.*` headers with the truncation marks next to the source coordinates."""
    ours = [(k, v) for k, v in ours if k not in {TRUNCATED, ORIGINAL_SIZE}]
    marks = [(TRUNCATED, b"true"), (ORIGINAL_SIZE, str(original_size).encode())]
    keys = [k for k, _ in ours]
    at = keys.index(SOURCE_OFFSET) + 1 if SOURCE_OFFSET in keys else len(ours)
    return ours[:at] + marks + ours[at:]


def _authoritative(
    headers: list[tuple[str, bytes]], original_size: int, limit: int
) -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]]:
    """(our `dlq.*` headers with the marks, the original headers); ours fit with no payload."""
    ours = _marked([(k, v) for k, v in headers if k.startswith("dlq.")], original_size)
    theirs = [(k, v) for k, v in headers if not k.startswith("dlq.")]
    if record_size(None, b"", ours) > limit:
        ours = [(k, clip_bytes(v)) for k, v in ours]
    if record_size(None, b"", ours) > limit:
        raise DeadLetterError(f"the dlq.* headers alone exceed the {limit}-byte dead-letter limit")
    return ours, theirs


def _present(key: bytes | None, value: bytes | None) -> bytes | None:
    """The Kafka client needs a key or a value: a record with neither gets value `b""`."""
    return b"" if key is None and value is None else value


def fit_dead_letter(
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]],
    max_message_bytes: int = DLQ_MAX_MESSAGE_BYTES,
) -> FittedLetter:
    """The dead letter as produced: unchanged when it fits `max_message_bytes`, else cut.

    Cutting keeps every `dlq.*` header and adds `dlq.truncated`/`dlq.original_size`; the room
    left is shared as: the key (at most a quarter; cut to a prefix beyond), the value (at
    least half of what remains, or all of it when smaller), original headers (in order, each
    kept whole or dropped), and whatever the headers leave goes to the value's prefix.

    Raises:
        DeadLetterError: the `dlq.*` headers alone (clipped to 1 KiB each) do not fit.
    """
    normalized = normalized_headers(headers)
    value = _present(key, value)
    original_size = 0 if value is None else len(value)
    if record_size(key, value, normalized) <= max_message_bytes:
        return FittedLetter(key, value, normalized, False, original_size)

    ours, theirs = _authoritative(normalized, original_size, max_message_bytes)
    room = max(0, max_message_bytes - record_size(None, None, ours) - _VARINT_SLACK)

    if key is not None and len(key) > room // 4:
        key = key[: room // 4]
    room -= 0 if key is None else len(key)

    value_reserve = min(original_size, room // 2)
    header_room = room - value_reserve
    kept: list[tuple[str, bytes]] = []
    for name, data in theirs:
        cost = _header_size(name, data)
        if cost <= header_room:
            kept.append((name, data))
            header_room -= cost
    room -= sum(_header_size(k, v) for k, v in kept)

    if value is not None and len(value) > room:
        value = value[: max(room, 0)]
    final = kept + ours
    # The slack covers varint widths; this only trims further if the estimate says otherwise.
    while record_size(key, value, final) > max_message_bytes:
        over = record_size(key, value, final) - max_message_bytes
        if value:
            value = value[: max(len(value) - over, 0)]
        elif kept:
            kept.pop()
            final = kept + ours
        elif key:
            key = key[: max(len(key) - over, 0)]
        else:  # pragma: no cover - _authoritative already proved ours fit
            raise DeadLetterError(f"cannot fit a dead letter in {max_message_bytes} bytes")
    return FittedLetter(key, _present(key, value), final, True, original_size)


def minimal_dead_letter(
    key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes | None]]
) -> FittedLetter:
    """The smallest useful letter, for a broker whose limit is below ours: the `dlq.*` headers
    (each clipped to 1 KiB) with the truncation marks, the key's first 1 KiB, no value
    (`b""`), no original headers."""
    normalized = normalized_headers(headers)
    original_size = 0 if value is None else len(value)
    ours = [
        (k, clip_bytes(v))
        for k, v in _marked([(k, v) for k, v in normalized if k.startswith("dlq.")], original_size)
    ]
    return FittedLetter(
        None if key is None else key[:MAX_TEXT_BYTES], b"", ours, True, original_size
    )
