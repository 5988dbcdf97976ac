"""Start-up check that the topics a process needs exist, made without creating them.

A broker with automatic topic creation (Kafka's `auto.create.topics.enable`, Tansu always)
creates a topic when a client asks metadata *for it by name*. The check therefore asks metadata
for all topics (a request that names none, so creates none) and looks the names up in it: a
typo in `KAFKA_TOPIC` or `publish --topic` stops the process instead of feeding a new topic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from consumer.errors import SignalRelayError

__all__ = ["MissingTopicError", "missing_topics", "require_topics", "topic_partitions"]


class MissingTopicError(SignalRelayError, LookupError):
    """A topic the process needs does not exist; `str()` is one line naming it.

    Attributes:
        topics: the missing topic names, in the order they were asked for.
    """

    def __init__(self, topics: tuple[str, ...]) -> None:
        self.topics = topics
        names = ", ".join(repr(topic) for topic in topics)
        noun = "topic" if len(topics) == 1 else "topics"
        verb, pronoun = ("does", "it") if len(topics) == 1 else ("do", "them")
        super().__init__(
            f"{noun} {names} {verb} not exist; create {pronoun} first "
            "(signal-relay never creates topics)"
        )


async def missing_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    *,
    client_options: Mapping[str, Any] | None = None,
) -> tuple[str, ...]:
    """The names among `topics` that the cluster does not have, asked without creating any.

    Raises aiokafka's `KafkaError` when the cluster cannot be reached.
    """
    wanted = tuple(dict.fromkeys(topics))
    existing = await topic_partitions(bootstrap_servers, client_options=client_options)
    return tuple(topic for topic in wanted if topic not in existing)


async def topic_partitions(
    bootstrap_servers: str, *, client_options: Mapping[str, Any] | None = None
) -> dict[str, int]:
    """Every topic the cluster has, with its partition count, asked without creating any.

    Raises aiokafka's `KafkaError` when the cluster cannot be reached.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **(client_options or {}))
    try:
        await admin.start()
        # All topics (no names): a metadata request naming a topic would create it.
        return {
            entry["topic"]: len(entry["partitions"])
            for entry in await admin.describe_topics()
            if entry["error_code"] == 0
        }
    finally:
        # Shielded: a caller cancelled mid-request must not leave the connections open.
        await asyncio.shield(admin.close())


async def require_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    *,
    client_options: Mapping[str, Any] | None = None,
) -> None:
    """Raise `MissingTopicError` naming every topic of `topics` that does not exist."""
    missing = await missing_topics(bootstrap_servers, topics, client_options=client_options)
    if missing:
        raise MissingTopicError(missing)
