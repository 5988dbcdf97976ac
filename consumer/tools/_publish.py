"""`signal-relay publish`: check JSONL signals with the relay's own validation, then produce them.

Each non-blank line is one record value, validated by `schemas.record.parse_candidate` (the
relay's rules, not a copy of them) and keyed by its instrument. Publishing is all or nothing
at the input level: one bad line and nothing is sent, unless bad lines are allowed on purpose.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from consumer.errors import SignalRelayError
from consumer.service._prepare import prepare_signal
from schemas.errors import RecordError

__all__ = [
    "DEFAULT_MAX_SIZE",
    "CheckedLine",
    "PublishError",
    "check_lines",
    "publish_records",
    "records_to_publish",
]

DEFAULT_MAX_SIZE = 65536
"""The relay's default `OUTBOUND_MAX_BODY_SIZE`: a larger value would be dead-lettered."""


class PublishError(SignalRelayError):
    """Records could not be handed to the broker."""


@dataclass(frozen=True, slots=True)
class CheckedLine:
    """One non-blank input line and the relay's verdict on it.

    Attributes:
        number: 1-based line number in the input (blank lines count).
        value: the line's bytes without its line ending: the record value as published.
        key: the instrument (UTF-8), the record key; None for an invalid line.
        problem: why the relay would dead-letter this value; None when it is a valid signal.
    """

    number: int
    value: bytes
    key: bytes | None
    problem: str | None

    def __str__(self) -> str:
        return f"line {self.number}: {self.problem or 'ok'}"


def check_lines(data: bytes, *, max_size: int = DEFAULT_MAX_SIZE) -> list[CheckedLine]:
    """Validate every non-blank line of JSONL `data`, in input order."""
    checked = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        value = line.removesuffix(b"\r")
        if not value.strip():
            continue
        try:
            prepared = prepare_signal(value, max_size)
        except RecordError as exc:
            checked.append(CheckedLine(number, value, None, str(exc)))
        else:
            key = prepared.candidate.instrument.encode()
            checked.append(CheckedLine(number, value, key, None))
    return checked


async def publish_records(
    bootstrap_servers: str,
    topic: str,
    records: Iterable[tuple[bytes | None, bytes]],
    *,
    client_options: Mapping[str, Any] | None = None,
) -> int:
    """Produce `(key, value)` records in order with acks=all; return how many were acknowledged.

    Every send is started before any acknowledgement is awaited, so the producer batches them;
    order per partition is the input order.
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", linger_ms=5, **(client_options or {})
    )
    try:
        await producer.start()
        pending = [await producer.send(topic, value=value, key=key) for key, value in records]
        for future in pending:
            await future
    except KafkaError as exc:
        raise PublishError(f"cannot publish to {topic!r} on {bootstrap_servers}: {exc}") from exc
    finally:
        await producer.stop()
    return len(pending)


def records_to_publish(
    checked: Sequence[CheckedLine], *, allow_invalid: bool
) -> list[tuple[bytes | None, bytes]]:
    """The `(key, value)` records to send: the valid lines, plus the invalid ones if allowed."""
    return [(line.key, line.value) for line in checked if line.problem is None or allow_invalid]
