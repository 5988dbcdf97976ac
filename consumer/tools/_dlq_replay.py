"""`signal-relay dlq replay`: choose dead letters and put their original records back.

A replayed record is the original key, value and headers (the `dlq.*` headers removed) plus
`dlq.replayed_from` = `<dlq topic>/<partition>/<offset>`, produced with acks=all to the topic it
came from (`dlq.source.topic`) or to an explicit target. Replaying is safe to repeat: the relay
derives the same `signal_id` from the same value, so the server answers a second delivery as an
idempotent replay.

Letters that would only fail again (`invalid_json`, `invalid_schema`, `undecodable`) or are stale
(`expired`) are held back unless the filter's `include` names their reason; the plan counts them.
A plan also knows how far it looked into each DLQ partition, so that a `ReplayMarker`
(consumer/tools/_replay_marker.py) can remember where the next run starts.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeAlias

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from aiolimiter import AsyncLimiter

from consumer.errors import SignalRelayError
from consumer.tools._topics import TopicError, read_topic
from signing.errors import MalformedTimestampError
from signing.timestamps import parse_timestamp

__all__ = [
    "DLQ_REASONS",
    "HELD_BACK_REASONS",
    "REPLAYED_FROM_HEADER",
    "MissingTargetError",
    "ReplayError",
    "ReplayFilter",
    "ReplayItem",
    "ReplayPlan",
    "plan_replay",
    "read_dead_letters",
    "replay",
    "replay_headers",
    "unknown_reasons",
]

DLQ_REASONS = (
    "invalid_json",
    "invalid_schema",
    "too_large",
    "undecodable",
    "http_4xx",
    "unexpected_2xx",
    "max_attempts",
    "expired",
    "rejected",
)
"""Every `dlq.reason` the relay writes (docs/PROTOCOL.md §9.4), in that table's order."""

HELD_BACK_REASONS = frozenset(
    {"invalid_json", "invalid_schema", "undecodable", "expired", "rejected"}
)
"""Reasons replayed only when asked (`include`): they would fail again (`rejected`: the server
answers a replayed signal_id with its verdict again), or they are stale."""

REPLAYED_FROM_HEADER = "dlq.replayed_from"
_DLQ_PREFIX = "dlq."

Record: TypeAlias = ConsumerRecord[bytes, bytes]


class ReplayError(SignalRelayError):
    """The replay could not be planned or carried out."""


class MissingTargetError(ReplayError):
    """A chosen dead letter names no source topic and no target topic was given."""


@dataclass(frozen=True, slots=True)
class ReplayFilter:
    """Which dead letters to replay; an empty criterion matches everything.

    Attributes:
        reasons: accepted `dlq.reason` values.
        signal_ids: accepted `dlq.signal_id` values (dead letters without one never match).
        since, until: the half-open window [since, until) for `dlq.last_attempt_at`, or the
            record's own timestamp when that header is missing.
        include: held-back reasons (`HELD_BACK_REASONS`) to replay after all.
    """

    reasons: frozenset[str] = frozenset()
    signal_ids: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None
    include: frozenset[str] = frozenset()

    def holds_back(self, reason: str | None) -> bool:
        """Whether a letter of `reason` is skipped: held back by default and not included."""
        return reason in HELD_BACK_REASONS and reason not in self.include

    def matches(self, record: Record) -> bool:
        """Whether `record` passes every criterion."""
        headers = _header_texts(record)
        if self.reasons and headers.get("dlq.reason") not in self.reasons:
            return False
        if self.signal_ids and headers.get("dlq.signal_id") not in self.signal_ids:
            return False
        if self.since is None and self.until is None:
            return True
        moment = _death_time(record, headers)
        if self.since is not None and moment < self.since:
            return False
        return self.until is None or moment < self.until


@dataclass(frozen=True, slots=True)
class ReplayItem:
    """One dead letter to put back, and where.

    Attributes:
        source: `<dlq topic>/<partition>/<offset>`, also the `dlq.replayed_from` value.
        reason: its `dlq.reason`, when present.
        signal_id: its `dlq.signal_id`, when present.
        target: the topic it goes back to.
        key, value: the original record's bytes.
        headers: the original headers without `dlq.*`, plus `dlq.replayed_from`.
        partition, offset: where the dead letter is in the DLQ.
    """

    source: str
    reason: str | None
    signal_id: str | None
    target: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    partition: int = 0
    offset: int = 0

    def describe(self) -> str:
        """One line for the operator: offset, reason, signal_id, target."""
        return (
            f"{self.source} reason={self.reason or '-'} signal_id={self.signal_id or '-'} "
            f"-> {self.target}"
        )


def replay_headers(
    headers: Iterable[tuple[str, bytes]], replayed_from: str
) -> tuple[tuple[str, bytes], ...]:
    """The original headers (every `dlq.*` one removed) plus `dlq.replayed_from`."""
    kept = tuple((k, v) for k, v in headers if not k.startswith(_DLQ_PREFIX))
    return (*kept, (REPLAYED_FROM_HEADER, replayed_from.encode()))


def unknown_reasons(reasons: Iterable[str]) -> list[str]:
    """The names in `reasons` that are not DLQ reasons, sorted."""
    return sorted(set(reasons) - set(DLQ_REASONS))


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    """What a replay will do with the dead letters it read.

    Attributes:
        items: the chosen dead letters, in DLQ order.
        read: how many dead letters were read.
        skipped: held-back letters the filters matched, by reason (sorted).
        reached: per DLQ partition, the offset after the last letter the plan looked at
            (chosen, skipped or not matched); `--limit` stops it early.
    """

    items: list[ReplayItem]
    read: int
    skipped: dict[str, int] = field(default_factory=dict)
    reached: dict[int, int] = field(default_factory=dict)

    @property
    def skipped_total(self) -> int:
        """How many matched letters were held back."""
        return sum(self.skipped.values())

    def marks(self, acked: int) -> dict[int, int]:
        """Per partition, where a next run starts once the first `acked` items are replayed.

        Past everything looked at, except in a partition with an item not yet acknowledged:
        there, at that item.
        """
        marks = dict(self.reached)
        for item in reversed(self.items[acked:]):
            marks[item.partition] = item.offset
        return marks


def plan_replay(
    records: Iterable[Record],
    *,
    dlq_topic: str,
    select: ReplayFilter,
    to_topic: str | None = None,
    limit: int | None = None,
) -> ReplayPlan:
    """The replays for the dead letters `select` matches, in DLQ order, at most `limit`.

    Matched letters that `select` holds back are counted in `skipped`, not chosen. Raises
    `MissingTargetError` (before anything is sent) when a chosen record has no
    `dlq.source.topic` header and `to_topic` is not given.
    """
    items: list[ReplayItem] = []
    skipped: Counter[str] = Counter()
    reached: dict[int, int] = {}
    read = 0
    for record in records:
        read += 1
        if limit is not None and len(items) >= limit:
            continue
        reached[record.partition] = record.offset + 1
        if not select.matches(record):
            continue
        headers = _header_texts(record)
        if select.holds_back(headers.get("dlq.reason")):
            skipped[headers.get("dlq.reason", "")] += 1
            continue
        source = f"{dlq_topic}/{record.partition}/{record.offset}"
        target = to_topic or headers.get("dlq.source.topic")
        if not target:
            raise MissingTargetError(f"{source} has no dlq.source.topic header; give --to TOPIC")
        items.append(
            ReplayItem(
                source=source,
                reason=headers.get("dlq.reason"),
                signal_id=headers.get("dlq.signal_id"),
                target=target,
                key=record.key,
                value=record.value,
                headers=replay_headers(record.headers, source),
                partition=record.partition,
                offset=record.offset,
            )
        )
    return ReplayPlan(items, read, dict(sorted(skipped.items())), reached)


async def read_dead_letters(
    bootstrap_servers: str,
    dlq_topic: str,
    *,
    client_options: Mapping[str, Any] | None = None,
    start: Mapping[int, int] | None = None,
) -> list[Record]:
    """Every record in the DLQ now (to its high-watermark), partition by partition.

    `start` gives, for the partitions it names, the offset to read from (a marker's positions).
    """
    try:
        return await read_topic(
            bootstrap_servers, dlq_topic, client_options=client_options, start=start
        )
    except (TopicError, KafkaError) as exc:
        raise ReplayError(f"cannot read the DLQ {dlq_topic!r}: {exc}") from exc


async def replay(
    bootstrap_servers: str,
    items: Sequence[ReplayItem],
    *,
    limiter: AsyncLimiter | None = None,
    on_replayed: Callable[[ReplayItem], None] = lambda item: None,
    client_options: Mapping[str, Any] | None = None,
) -> int:
    """Produce `items` in order with acks=all, paced by `limiter`; return how many were acked.

    `on_replayed` is called for each item once the broker acknowledged it, in input order.
    """
    if not items:
        return 0
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", linger_ms=5, **(client_options or {})
    )
    acked = 0
    try:
        await producer.start()
        pending: deque[tuple[ReplayItem, asyncio.Future[Any]]] = deque()
        for item in items:
            if limiter is not None:
                await limiter.acquire()
            future = await producer.send(
                item.target, value=item.value, key=item.key, headers=list(item.headers)
            )
            pending.append((item, future))
            # Report acknowledgements as they come, not only at the end of a slow replay.
            while pending and pending[0][1].done():
                acked += await _acknowledged(*pending.popleft(), on_replayed)
        while pending:
            acked += await _acknowledged(*pending.popleft(), on_replayed)
    except KafkaError as exc:
        raise ReplayError(f"replay failed after {acked} record(s): {exc}") from exc
    finally:
        await producer.stop()
    return acked


async def _acknowledged(
    item: ReplayItem, future: asyncio.Future[Any], on_replayed: Callable[[ReplayItem], None]
) -> int:
    await future
    on_replayed(item)
    return 1


def _header_texts(record: Record) -> dict[str, str]:
    """The `dlq.*` headers as text (the last one wins if a name repeats)."""
    return {
        key: value.decode("utf-8", "replace")
        for key, value in record.headers
        if key.startswith(_DLQ_PREFIX)
    }


def _death_time(record: Record, headers: dict[str, str]) -> datetime:
    text = headers.get("dlq.last_attempt_at")
    if text is not None:
        try:
            return parse_timestamp(text)
        except MalformedTimestampError:
            pass
    return datetime.fromtimestamp(record.timestamp / 1000, UTC)
