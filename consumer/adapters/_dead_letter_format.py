"""What a dead letter says: the `DeadLetter` value and the `dlq.*` headers of docs/PROTOCOL.md §9.3.

`dlq_headers` turns a `DeadLetter` and the record's coordinates into the headers written with
the original key and value; whether they fit the topic is `_dead_letter_fit.py`'s decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from signing.timestamps import format_timestamp

__all__ = [
    "MAX_TEXT_BYTES",
    "ORIGINAL_SIZE",
    "SOURCE_OFFSET",
    "TRUNCATED",
    "DeadLetter",
    "clip_bytes",
    "dlq_headers",
    "normalized_headers",
]

MAX_TEXT_BYTES = 1024
"""`dlq.error` and `dlq.http.body` are cut to this many bytes (and so is any `dlq.*` value
when a tiny size limit leaves no other way)."""

TRUNCATED = "dlq.truncated"
ORIGINAL_SIZE = "dlq.original_size"
SOURCE_OFFSET = "dlq.source.offset"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Why a record is dead, in the words of the `dlq.*` headers (docs/PROTOCOL.md §9.3).

    Attributes:
        reason: `dlq.reason`, one of the reasons of docs/PROTOCOL.md §9.4.
        error: human-readable explanation, cut to 1 KiB.
        attempts: HTTP attempts made (0 for records never sent).
        first_attempt_at, last_attempt_at: epoch seconds of the first and last attempt
            (for records never sent, both are the moment the record was judged).
        http_status, http_body: the server's last answer, when there was one.
        signal_id: the signal's id, when it was known.
        age_seconds: the signal's age when it was judged, for `expired` letters.
        first_offset: for a letter standing for a whole corrupt batch (its value is the
            batch's raw bytes), the first offset it covers; the source offset is the last.
    """

    reason: str
    error: str
    attempts: int
    first_attempt_at: float
    last_attempt_at: float
    http_status: int | None = None
    http_body: str | None = None
    signal_id: str | None = None
    age_seconds: float | None = None
    first_offset: int | None = None


def _clip(text: str) -> bytes:
    data = text.encode("utf-8", "replace")
    if len(data) <= MAX_TEXT_BYTES:
        return data
    return data[: MAX_TEXT_BYTES - 3].decode("utf-8", "ignore").encode() + b"..."


def clip_bytes(data: bytes) -> bytes:
    """`data` cut to 1 KiB, ending in `...` when it was cut."""
    if len(data) <= MAX_TEXT_BYTES:
        return data
    return data[: MAX_TEXT_BYTES - 3] + b"..."


def _stamp(epoch: float) -> bytes:
    return format_timestamp(datetime.fromtimestamp(epoch, UTC)).encode()


def _header_key(key: object) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bytes | bytearray | memoryview):
        return bytes(key).decode("utf-8", "replace")
    return str(key)


def _header_value(value: object) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8", "replace")


def normalized_headers(headers: Sequence[tuple[str, bytes | None]]) -> list[tuple[str, bytes]]:
    """Header keys as `str`, values as `bytes` (a null value becomes `b""`)."""
    return [(_header_key(k), _header_value(v)) for k, v in headers]


def dlq_headers(
    original: Sequence[tuple[str, bytes | None]],
    letter: DeadLetter,
    *,
    topic: str,
    partition: int,
    offset: int,
) -> list[tuple[str, bytes]]:
    """The original headers (minus stale `dlq.*` ones from an earlier death) plus ours.

    Keys are always `str` and values always `bytes` (a null original value becomes `b""`).
    """
    headers = [(k, v) for k, v in normalized_headers(original) if not k.startswith("dlq.")]
    headers += [
        ("dlq.reason", letter.reason.encode()),
        ("dlq.error", _clip(letter.error)),
        ("dlq.source.topic", topic.encode()),
        ("dlq.source.partition", str(partition).encode()),
        ("dlq.source.offset", str(offset).encode()),
        ("dlq.attempts", str(letter.attempts).encode()),
        ("dlq.first_attempt_at", _stamp(letter.first_attempt_at)),
        ("dlq.last_attempt_at", _stamp(letter.last_attempt_at)),
    ]
    if letter.http_status is not None:
        headers.append(("dlq.http.status", str(letter.http_status).encode()))
    if letter.http_body is not None:
        headers.append(("dlq.http.body", _clip(letter.http_body)))
    if letter.signal_id is not None:
        headers.append(("dlq.signal_id", letter.signal_id.encode()))
    if letter.age_seconds is not None:
        headers.append(("dlq.age_seconds", f"{letter.age_seconds:.3f}".encode()))
    if letter.first_offset is not None:
        headers.append(("dlq.source.first_offset", str(letter.first_offset).encode()))
    return headers
