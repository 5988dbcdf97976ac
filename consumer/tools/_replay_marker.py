"""Where a DLQ replay left off: a consumer group on the DLQ topic (`dlq replay --group NAME`).

The group's committed offset of each DLQ partition is where the next replay with the same group
starts reading. A replay commits, once it ends (done, failed or interrupted), the offset after
every dead letter it dealt with in order: replayed and acknowledged, skipped, or not matched by
its filters. One group per purpose: a run with other filters under the same group would never
see what an earlier run passed over.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from consumer.tools._dlq_replay import ReplayError
from consumer.tools._topics import TopicError, committed_offsets

__all__ = ["ReplayMarker"]


class ReplayMarker:
    """The offsets consumer group `group` committed on `dlq_topic`: read them, move them on."""

    def __init__(
        self,
        bootstrap_servers: str,
        dlq_topic: str,
        group: str,
        *,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._servers = bootstrap_servers
        self._topic = dlq_topic
        self._group = group
        self._options = dict(client_options or {})

    async def positions(self) -> dict[int, int]:
        """Per DLQ partition, the offset the next replay starts at; absent = the beginning."""
        try:
            return await committed_offsets(
                self._servers, self._group, self._topic, client_options=self._options
            )
        except (TopicError, KafkaError) as exc:
            raise ReplayError(
                f"cannot read group {self._group!r} on {self._topic!r}: {exc}"
            ) from exc

    async def advance(self, marks: Mapping[int, int]) -> None:
        """Commit `marks` (partition -> next offset) for the group; shielded from cancellation."""
        if marks:
            await asyncio.shield(self._commit(marks))

    async def _commit(self, marks: Mapping[int, int]) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._servers,
            group_id=self._group,
            enable_auto_commit=False,
            **self._options,
        )
        offsets = {TopicPartition(self._topic, p): offset for p, offset in marks.items()}
        try:
            await consumer.start()
            consumer.assign(list(offsets))
            await consumer.commit(offsets)
        except KafkaError as exc:
            raise ReplayError(
                f"cannot commit group {self._group!r} on {self._topic!r}: {exc}"
            ) from exc
        finally:
            await consumer.stop()
