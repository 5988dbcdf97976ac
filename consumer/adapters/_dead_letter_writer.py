"""Writing dead letters with acks=all: the DLQ producer, and the one retry loop of a write.

The writer owns retrying a dead-letter write, and only the writer does (docs/PROTOCOL.md §9.6):
a write that may pass with time (broker unreachable, leader moving, timeout) is logged as
`dlq_write_failed`, reported to `on_stalled` (the relay counts and alerts it) and sent again
with the relay's §7.2 backoff, with the same fitted letter, until the broker acknowledges it or
the caller is cancelled. A write that will not pass raises `DeadLetterError` at once (a size
error first gets one more try in the minimal form of §9.5); what happens to the record then is
the record flow's decision (`consumer/service/_record_flow.py`, §7.4), which retries the record,
never the write.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping, Sequence
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

from consumer.adapters._dead_letter_fit import (
    DLQ_MAX_MESSAGE_BYTES,
    DLQ_MIN_MESSAGE_BYTES,
    DeadLetterError,
    FittedLetter,
    fit_dead_letter,
    minimal_dead_letter,
)

__all__ = [
    "Backoff",
    "DeadLetterWriter",
    "build_dead_letter_producer",
    "is_retriable_write_error",
]

_log = logging.getLogger("signal_relay.dlq")

# max_request_size of the DLQ producer = the writer's limit + this. The client checks the very
# estimate the writer fits to, so any headroom is enough; this is room for the produce
# request's own framing (request header, topic name) in the sense of Java's max.request.size.
_PRODUCER_HEADROOM_BYTES = 4 * 1024

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
      backoff until it succeeds or the caller is cancelled; `on_recovered(attempts)` is called
      when a write succeeds after such failures. The wait does not watch the partition: on
      revocation or shutdown the lane cancels the write once its grace is over;
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
