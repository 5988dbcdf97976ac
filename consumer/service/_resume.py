"""Where a newly assigned partition resumes: its committed offset and the final runs above it.

The runs come from the commit's metadata (`_finished_offsets.py`). Reading them is best effort:
a broker that does not answer in time, metadata from another tool or none at all resumes
exactly as before, from the committed offset, skipping nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection

from aiokafka import AIOKafkaConsumer, TopicPartition

from consumer.adapters._aiokafka_private import committed_with_metadata
from consumer.service._finished_offsets import OffsetRange, decode_finished

__all__ = ["committed_with_metadata", "finished_above_commits"]

_log = logging.getLogger("signal_relay.resume")


async def finished_above_commits(
    consumer: AIOKafkaConsumer, tps: Collection[TopicPartition], *, within: float
) -> dict[TopicPartition, tuple[OffsetRange, ...]]:
    """The runs an earlier owner finished above each partition's commit; {} on any doubt."""
    if not tps:
        return {}
    try:
        committed = await asyncio.wait_for(committed_with_metadata(consumer, tps), within)
    except Exception as exc:  # skipping is an optimisation: without it, re-send as before
        _log.warning("resume_metadata_unavailable", extra={"fields": {"error": repr(exc)[:300]}})
        return {}
    found = {tp: decode_finished(each.offset, each.metadata) for tp, each in committed.items()}
    return {tp: ranges for tp, ranges in found.items() if ranges}
