"""Where a newly assigned partition resumes: its committed offset and the final runs above it.

The runs come from the commit's metadata (`_finished_offsets.py`). Reading them is best effort:
a broker that does not answer in time, metadata from another tool or none at all resumes
exactly as before, from the committed offset, skipping nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from consumer.service._finished_offsets import OffsetRange, decode_finished

__all__ = ["committed_with_metadata", "finished_above_commits"]

_log = logging.getLogger("signal_relay.resume")


async def committed_with_metadata(
    consumer: AIOKafkaConsumer, tps: Collection[TopicPartition]
) -> dict[TopicPartition, OffsetAndMetadata]:
    """The group's committed offset and metadata of each of `tps` (absent: never committed).

    aiokafka's public `committed()` drops the metadata of the OffsetFetch answer; its group
    coordinator returns both. This is the one use of that private API
    (tests/test_resume_private_api.py breaks if aiokafka changes it).
    """
    coordinator = consumer._coordinator  # private: see the docstring
    fetched: Mapping[TopicPartition, OffsetAndMetadata] = await coordinator.fetch_committed_offsets(
        list(tps)
    )
    return {
        tp: each
        for tp, each in fetched.items()
        if isinstance(each, OffsetAndMetadata) and each.offset >= 0
    }


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
