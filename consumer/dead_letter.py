"""The dead-letter topic: what a dead letter carries, and writing it with acks=all."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from consumer.retry import RetryPolicy
from signing.timestamps import format_timestamp

__all__ = ["DeadLetter", "DeadLetterWriter", "dlq_headers"]

_log = logging.getLogger("signal_relay.dlq")
_MAX_TEXT = 1024


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Why a record is dead, in the words of the `dlq.*` headers (CONTRACT section 5).

    Attributes:
        reason: `dlq.reason`, one of the contract's reasons.
        error: human-readable explanation, cut to 1 KiB.
        attempts: HTTP attempts made (0 for records never sent).
        first_attempt_at, last_attempt_at: epoch seconds of the first and last attempt
            (for records never sent, both are the moment the record was judged).
        http_status, http_body: the server's last answer, when there was one.
        signal_id: the signal's id, when it was known.
    """

    reason: str
    error: str
    attempts: int
    first_attempt_at: float
    last_attempt_at: float
    http_status: int | None = None
    http_body: str | None = None
    signal_id: str | None = None


def _clip(text: str) -> bytes:
    data = text.encode("utf-8", "replace")
    if len(data) <= _MAX_TEXT:
        return data
    return data[: _MAX_TEXT - 3].decode("utf-8", "ignore").encode() + b"..."


def _stamp(epoch: float) -> bytes:
    return format_timestamp(datetime.fromtimestamp(epoch, UTC)).encode()


def dlq_headers(
    original: Sequence[tuple[str, bytes]],
    letter: DeadLetter,
    *,
    topic: str,
    partition: int,
    offset: int,
) -> list[tuple[str, bytes]]:
    """The original headers (minus stale `dlq.*` ones from an earlier death) plus ours."""
    headers = [(k, v) for k, v in original if not k.startswith("dlq.")]
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
    return headers


class DeadLetterWriter:
    """Writes dead letters and returns only once the broker acknowledged them (acks=all).

    A failed write is retried with backoff until it succeeds or the caller is cancelled
    (revocation, shutdown); the source offset is never final before the write is.
    """

    def __init__(self, producer: AIOKafkaProducer, topic: str, policy: RetryPolicy) -> None:
        self._producer = producer
        self._topic = topic
        self._policy = policy

    async def write(
        self,
        *,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
    ) -> None:
        """Produce one dead letter and wait for its acknowledgement, retrying on failure."""
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._producer.send_and_wait(
                    self._topic, value=value, key=key, headers=headers
                )
            except KafkaError as exc:
                delay = self._policy.delay(attempt)
                _log.error(
                    "dlq_write_failed",
                    extra={
                        "fields": {
                            "dlq_topic": self._topic,
                            "attempt": attempt,
                            "retry_in_s": round(delay, 3),
                            "error": f"{type(exc).__name__}: {exc}"[:300],
                        }
                    },
                )
                await asyncio.sleep(max(delay, 0.05))
            else:
                return
