"""The dead-letter topic: what a dead letter carries, and writing it with acks=all.

A dead letter always fits the topic (docs/PROTOCOL.md §9.5): before it is produced, its
size is estimated exactly as the Kafka client estimates it, and a letter that would exceed
`max_message_bytes` is cut to fit and marked `dlq.truncated: true` plus `dlq.original_size`
(bytes of the original value). What is cut, in this order of sacrifice:

1. the value, down to a prefix (or to `b""` when the headers leave no room for it);
2. original (non-`dlq.*`) headers that do not fit their share of the room, dropped whole;
3. the key, cut to a prefix when it alone takes more than a quarter of the room.

The `dlq.*` headers are authoritative and never dropped (only clipped to 1 KiB each when a
tiny limit leaves no other way). The writer never loops forever on a permanent error: size
errors get one retry in a minimal form, other non-retriable errors raise `DeadLetterError`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    BrokerNotAvailableError,
    CorruptRecordException,
    KafkaError,
    KafkaTimeoutError,
    KafkaUnavailableError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    ReplicaNotAvailableError,
)

from signing.timestamps import format_timestamp

__all__ = [
    "DLQ_MAX_MESSAGE_BYTES",
    "DLQ_MIN_MESSAGE_BYTES",
    "Backoff",
    "DeadLetter",
    "DeadLetterError",
    "DeadLetterWriter",
    "FittedLetter",
    "build_dead_letter_producer",
    "dlq_headers",
    "fit_dead_letter",
    "is_retriable_write_error",
    "minimal_dead_letter",
    "record_size",
]

_log = logging.getLogger("signal_relay.dlq")
_MAX_TEXT = 1024

DLQ_MAX_MESSAGE_BYTES = 1024 * 1024
"""Default size limit of one dead letter: Kafka's default `max.request.size` (and just under
the broker's default `message.max.bytes`, 1 MiB + 12)."""

DLQ_MIN_MESSAGE_BYTES = 8 * 1024
"""Smallest limit a writer accepts: room for the `dlq.*` headers (each at most 1 KiB)."""

# max_request_size of the DLQ producer = the writer's limit + this. The client checks the very
# estimate the writer fits to, so any headroom is enough; this is room for the produce
# request's own framing (request header, topic name) in the sense of Java's max.request.size.
_PRODUCER_HEADROOM_BYTES = 4 * 1024

# The client's upper bound for a one-record batch: the v2 batch header (61 bytes) plus the
# record's worst-case fixed overhead (21 bytes). Same as aiokafka's `estimate_size_in_bytes`.
_BATCH_OVERHEAD = 61 + 21

# Slack for varints whose width changes while a letter is cut (key, value, header count).
_VARINT_SLACK = 16

_TRUNCATED = "dlq.truncated"
_ORIGINAL_SIZE = "dlq.original_size"
_SOURCE_OFFSET = "dlq.source.offset"

_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")

_SIZE_ERRORS = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError)
# aiokafka marks these non-retriable, but they are transient: the broker is unreachable or
# restarting, a replica is moving, a batch expired waiting for a leader, a frame was damaged.
_TRANSIENT_ERRORS = (
    KafkaTimeoutError,
    BrokerNotAvailableError,
    ReplicaNotAvailableError,
    KafkaUnavailableError,
    CorruptRecordException,
)


class DeadLetterError(Exception):
    """A dead letter cannot be written and retrying will not help (e.g. the DLQ topic name is
    invalid, the producer is not authorized, the broker rejects even a minimal letter).

    The source offset must not be committed: the caller should stop (crash the relay) and
    alert. The Kafka error, when there is one, is the `__cause__`.
    """


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


def _clip(text: str) -> bytes:
    data = text.encode("utf-8", "replace")
    if len(data) <= _MAX_TEXT:
        return data
    return data[: _MAX_TEXT - 3].decode("utf-8", "ignore").encode() + b"..."


def _clip_bytes(data: bytes) -> bytes:
    if len(data) <= _MAX_TEXT:
        return data
    return data[: _MAX_TEXT - 3] + b"..."


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


def _normalized(headers: Sequence[tuple[str, bytes | None]]) -> list[tuple[str, bytes]]:
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
    headers = [(k, v) for k, v in _normalized(original) if not k.startswith("dlq.")]
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
    ours = [(k, v) for k, v in ours if k not in {_TRUNCATED, _ORIGINAL_SIZE}]
    marks = [(_TRUNCATED, b"true"), (_ORIGINAL_SIZE, str(original_size).encode())]
    keys = [k for k, _ in ours]
    at = keys.index(_SOURCE_OFFSET) + 1 if _SOURCE_OFFSET in keys else len(ours)
    return ours[:at] + marks + ours[at:]


def _authoritative(
    headers: list[tuple[str, bytes]], original_size: int, limit: int
) -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]]:
    """(our `dlq.*` headers with the marks, the original headers); ours fit with no payload."""
    ours = _marked([(k, v) for k, v in headers if k.startswith("dlq.")], original_size)
    theirs = [(k, v) for k, v in headers if not k.startswith("dlq.")]
    if record_size(None, b"", ours) > limit:
        ours = [(k, _clip_bytes(v)) for k, v in ours]
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
    normalized = _normalized(headers)
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
    normalized = _normalized(headers)
    original_size = 0 if value is None else len(value)
    ours = [
        (k, _clip_bytes(v))
        for k, v in _marked([(k, v) for k, v in normalized if k.startswith("dlq.")], original_size)
    ]
    return FittedLetter(None if key is None else key[:_MAX_TEXT], b"", ours, True, original_size)


# -- errors and the producer ------------------------------------------------------------------


def is_retriable_write_error(exc: BaseException) -> bool:
    """True for producer errors that may pass with time (broker down, leader moving, timeout).

    aiokafka's `retriable` attribute, widened by the transient errors it marks otherwise
    (`KafkaTimeoutError`, `BrokerNotAvailableError`, ...). Size errors are not retriable.
    """
    if not isinstance(exc, KafkaError) or isinstance(exc, _SIZE_ERRORS):
        return False
    return bool(getattr(exc, "retriable", False)) or isinstance(exc, _TRANSIENT_ERRORS)


def _topic_problem(topic: str) -> str | None:
    if not _TOPIC_NAME.fullmatch(topic) or topic in {".", ".."}:
        return f"invalid DLQ topic name {topic!r} (1-249 of [A-Za-z0-9._-], not '.' or '..')"
    return None


def build_dead_letter_producer(
    bootstrap_servers: str,
    kafka_options: Mapping[str, Any],
    *,
    max_message_bytes: int = DLQ_MAX_MESSAGE_BYTES,
    **options: Any,
) -> AIOKafkaProducer:
    """The DLQ producer: acks=all, `max_request_size` matching a writer's `max_message_bytes`.

    `kafka_options` are the SASL/TLS options (`kafka_client_options(...)`); further keyword
    `options` (e.g. `client_id`) go to `AIOKafkaProducer` too. `acks` and `max_request_size`
    are always this function's; `enable_idempotence` keeps aiokafka's default.
    """
    if max_message_bytes < DLQ_MIN_MESSAGE_BYTES:
        raise ValueError(f"max_message_bytes must be at least {DLQ_MIN_MESSAGE_BYTES}")
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        **{
            **kafka_options,
            **options,
            "acks": "all",
            "max_request_size": max_message_bytes + _PRODUCER_HEADROOM_BYTES,
        },
    )


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


class Backoff(Protocol):
    """How long to wait before write attempt `attempt` (the service's retry policy)."""

    def delay(self, attempt: int) -> float: ...


class DeadLetterWriter:
    """Writes dead letters and returns only once the broker acknowledged them (acks=all).

    Every letter is fitted to `max_message_bytes` first (see `fit_dead_letter`); build the
    producer with `build_dead_letter_producer(..., max_message_bytes=...)` so the two agree.

    Failures:
    - retriable (broker unreachable, not leader, timeouts): logged as `dlq_write_failed`,
      `on_stalled(attempt, error)` is called, and the write is retried with the policy's
      backoff until it succeeds or the caller is cancelled (revocation, shutdown);
      `on_recovered(attempts)` is called when a write succeeds after such failures;
    - size rejected (the broker's limit is below ours): retried once as
      `minimal_dead_letter(...)`, then `DeadLetterError`;
    - anything else non-retriable (invalid topic, authorization, producer closed):
      `DeadLetterError` at once.

    The source offset is never final before the write is; cancellation propagates.
    """

    def __init__(
        self,
        producer: AIOKafkaProducer,
        topic: str,
        policy: Backoff,
        *,
        max_message_bytes: int = DLQ_MAX_MESSAGE_BYTES,
        on_stalled: Callable[[int, BaseException], None] | None = None,
        on_recovered: Callable[[int], None] | None = None,
    ) -> None:
        if max_message_bytes < DLQ_MIN_MESSAGE_BYTES:
            raise ValueError(f"max_message_bytes must be at least {DLQ_MIN_MESSAGE_BYTES}")
        self._producer = producer
        self._topic = topic
        self._policy = policy
        self._max = max_message_bytes
        self._on_stalled = on_stalled
        self._on_recovered = on_recovered
        self._topic_problem = _topic_problem(topic)

    @property
    def max_message_bytes(self) -> int:
        """The size limit every dead letter is fitted to."""
        return self._max

    async def write(
        self,
        *,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes | None]],
    ) -> FittedLetter:
        """Produce one dead letter and wait for its acknowledgement; return what was written.

        Raises:
            DeadLetterError: the letter cannot be written and retrying will not help.
            asyncio.CancelledError: the caller was cancelled while waiting.
        """
        if self._topic_problem is not None:
            _log.critical(
                "dlq_write_rejected",
                extra={"fields": {"dlq_topic": self._topic, "error": self._topic_problem}},
            )
            raise DeadLetterError(self._topic_problem)
        letter = fit_dead_letter(key, value, headers, self._max)
        if letter.truncated:
            self._log_truncated(letter, "dlq_truncated")
        attempt = 0
        stalled = 0
        shrunk = False
        while True:
            attempt += 1
            try:
                await self._producer.send_and_wait(
                    self._topic, value=letter.value, key=letter.key, headers=letter.headers
                )
            except KafkaError as exc:
                if isinstance(exc, _SIZE_ERRORS) and not shrunk:
                    shrunk = True
                    letter = minimal_dead_letter(key, value, headers)
                    self._log_truncated(letter, "dlq_too_large_for_broker", exc)
                    continue
                if not is_retriable_write_error(exc):
                    self._rejected(attempt, exc)
                    raise DeadLetterError(
                        f"dead letter to {self._topic!r} rejected: {_describe(exc)}"
                    ) from exc
                stalled += 1
                await self._back_off(attempt, exc)
            else:
                if stalled and self._on_recovered is not None:
                    self._call(self._on_recovered, attempt)
                return letter

    async def _back_off(self, attempt: int, exc: KafkaError) -> None:
        delay = self._policy.delay(attempt)
        _log.error(
            "dlq_write_failed",
            extra={
                "fields": {
                    "dlq_topic": self._topic,
                    "attempt": attempt,
                    "retry_in_s": round(delay, 3),
                    "error": _describe(exc),
                }
            },
        )
        if self._on_stalled is not None:
            self._call(self._on_stalled, attempt, exc)
        await asyncio.sleep(max(delay, 0.05))

    def _rejected(self, attempt: int, exc: KafkaError) -> None:
        _log.critical(
            "dlq_write_rejected",
            extra={
                "fields": {"dlq_topic": self._topic, "attempt": attempt, "error": _describe(exc)}
            },
        )

    def _log_truncated(
        self, letter: FittedLetter, event: str, exc: KafkaError | None = None
    ) -> None:
        fields: dict[str, object] = {
            "dlq_topic": self._topic,
            "original_size": letter.original_size,
            "written_size": letter.size,
            "max_message_bytes": self._max,
        }
        if exc is not None:
            fields["error"] = _describe(exc)
        _log.warning(event, extra={"fields": fields})

    def _call(self, callback: Callable[..., None], *args: object) -> None:
        """A broken callback is logged; it must not wedge or crash the write."""
        try:
            callback(*args)
        except Exception as exc:
            _log.exception("dlq_callback_failed", extra={"fields": {"error": _describe(exc)}})
