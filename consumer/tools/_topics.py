"""Topic chores for tests, the demo, the benchmarks and DLQ replay: create, read back, inspect.

Metadata comes from all-topics requests: aiokafka's per-topic metadata requests let the
broker auto-create a missing topic, which would hide a typo behind an empty result.
"""

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code
from aiokafka.structs import ConsumerRecord

from consumer.errors import SignalRelayError

__all__ = [
    "TopicCreateError",
    "TopicError",
    "TopicNotFoundError",
    "TopicTimeoutError",
    "committed_offsets",
    "ensure_topic",
    "read_topic",
]

_METADATA_TIMEOUT_SECONDS = 30.0
_METADATA_POLL_SECONDS = 0.05
_FETCH_WAIT_MS = 100


class TopicError(SignalRelayError):
    """Base error of the topic helpers."""


class TopicCreateError(TopicError):
    """The broker refused to create a topic (other than because it exists)."""


class TopicNotFoundError(TopicError, LookupError):
    """The topic does not exist."""


class TopicTimeoutError(TopicError, TimeoutError):
    """The broker did not reach the awaited state in time."""


async def ensure_topic(bootstrap_servers: str, name: str, partitions: int = 1) -> None:
    """Create `name` unless it exists, then wait until metadata shows its partitions led.

    An existing topic is left as it is, whatever its partition count.
    """
    async with _admin(bootstrap_servers) as admin:
        response = await admin.create_topics([NewTopic(name, partitions, 1)])
        created = _created(response, name)
        wanted = partitions if created else 1
        try:
            async with asyncio.timeout(_METADATA_TIMEOUT_SECONDS):
                # Polling: the broker offers nothing to wait on for topic metadata.
                while await _led_partition_count(admin, name) < wanted:  # noqa: ASYNC110
                    await asyncio.sleep(_METADATA_POLL_SECONDS)
        except TimeoutError as exc:
            raise TopicTimeoutError(
                f"topic {name!r} did not show {wanted} led partition(s) "
                f"within {_METADATA_TIMEOUT_SECONDS:g}s"
            ) from exc


async def read_topic(
    bootstrap_servers: str,
    topic: str,
    *,
    timeout: float = 30.0,  # noqa: ASYNC109 - a bound callers need not build themselves
    client_options: Mapping[str, Any] | None = None,
    start: Mapping[int, int] | None = None,
) -> list[ConsumerRecord]:
    """Every record in `topic` now, partition by partition, each in offset order.

    No group: all partitions are assigned and read from the beginning (or from `start`'s
    offset for a partition it names) up to the fetch high-watermark first seen for each.
    ListOffsets (`end_offsets`) is not used because Tansu answers it wrongly.
    """
    options = dict(client_options or {})
    async with _admin(bootstrap_servers, options) as admin:
        partitions = await _existing_partitions(admin, topic)
    assignment = [TopicPartition(topic, partition) for partition in partitions]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **options,
    )
    await consumer.start()
    try:
        consumer.assign(assignment)
        await consumer.seek_to_beginning(*assignment)
        for tp in assignment:
            if start and tp.partition in start:
                consumer.seek(tp, start[tp.partition])
        async with asyncio.timeout(timeout):
            return await _read_to_high_watermarks(consumer, assignment)
    except TimeoutError as exc:
        raise TopicTimeoutError(
            f"reading topic {topic!r} did not reach its end within {timeout:g}s"
        ) from exc
    finally:
        await consumer.stop()


async def committed_offsets(
    bootstrap_servers: str,
    group_id: str,
    topic: str,
    *,
    client_options: Mapping[str, Any] | None = None,
) -> dict[int, int]:
    """The offset `group_id` committed per partition of `topic`; uncommitted ones are absent.

    As Kafka defines it, a committed offset is the next one to consume (last done + 1).
    """
    async with _admin(bootstrap_servers, client_options) as admin:
        partitions = await _existing_partitions(admin, topic)
        # Explicit partitions: Tansu cannot answer an OffsetFetch for "all partitions".
        offsets = await admin.list_consumer_group_offsets(
            group_id, partitions=[TopicPartition(topic, partition) for partition in partitions]
        )
    return {tp.partition: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


async def _read_to_high_watermarks(
    consumer: AIOKafkaConsumer, assignment: list[TopicPartition]
) -> list[ConsumerRecord]:
    records: dict[TopicPartition, list[ConsumerRecord]] = {tp: [] for tp in assignment}
    ends: dict[TopicPartition, int] = {}
    pending = set(assignment)
    while pending:
        batches = await consumer.getmany(*pending, timeout_ms=_FETCH_WAIT_MS)
        for tp in list(pending):
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue  # no fetch response for it yet
            end = ends.setdefault(tp, highwater)
            records[tp].extend(r for r in batches.get(tp, ()) if r.offset < end)
            if await consumer.position(tp) >= end:
                pending.discard(tp)
                consumer.pause(tp)
    return [record for tp in assignment for record in records[tp]]


@asynccontextmanager
async def _admin(
    bootstrap_servers: str, options: Mapping[str, Any] | None = None
) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **(options or {}))
    try:
        await admin.start()
        yield admin
    finally:
        # Shielded: a caller cancelled mid-request must not leave the connections open.
        await asyncio.shield(admin.close())


def _created(response: Any, name: str) -> bool:
    """True when the CreateTopics `response` created `name`, False when it already existed."""
    for topic_error in response.topic_errors:
        topic, code = topic_error[0], topic_error[1]
        if topic != name or code == 0:
            continue
        error = for_code(code)
        if error is TopicAlreadyExistsError:
            return False
        message = topic_error[2] if len(topic_error) > 2 else None
        raise TopicCreateError(f"cannot create topic {name!r}: {error.__name__} {message or ''}")
    return True


async def _existing_partitions(admin: AIOKafkaAdminClient, topic: str) -> list[int]:
    partitions = await _partition_metadata(admin, topic)
    if not partitions:
        raise TopicNotFoundError(f"topic {topic!r} does not exist")
    return sorted(partition["partition"] for partition in partitions)


async def _led_partition_count(admin: AIOKafkaAdminClient, topic: str) -> int:
    return sum(partition["leader"] >= 0 for partition in await _partition_metadata(admin, topic))


async def _partition_metadata(admin: AIOKafkaAdminClient, topic: str) -> list[dict[str, Any]]:
    """Metadata entries of the partitions of `topic`; empty if the topic is unknown."""
    for entry in await admin.describe_topics():
        if entry["topic"] == topic and entry["error_code"] == 0:
            partitions: list[dict[str, Any]] = entry["partitions"]
            return partitions
    return []
