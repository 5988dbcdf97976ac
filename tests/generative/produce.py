"""Writes a plan to its topic, chunk by chunk, and learns where every record landed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from foreign_producer import ForeignRecord, produce_foreign
from raw_records import produce_raw, raw_batch

from generative.plan import Chunk, PlannedRecord, StreamPlan


@dataclass(frozen=True, slots=True)
class Placed:
    """A planned record and the offset it got in its partition."""

    record: PlannedRecord
    offset: int

    @property
    def source(self) -> tuple[int, int]:
        """(partition, offset)."""
        return self.record.partition, self.offset


async def produce_plan(
    bootstrap: str, topic: str, plan: StreamPlan, on_chunk: Callable[[list[Placed]], None]
) -> list[Placed]:
    """Produce every chunk in order (each acknowledged before the next); `on_chunk` sees each."""
    placed: list[Placed] = []
    for chunk in plan.chunks:
        landed = await (
            _produce_raw(bootstrap, topic, chunk)
            if chunk.raw
            else _produce_client(bootstrap, topic, chunk)
        )
        on_chunk(landed)
        placed.extend(landed)
    return placed


async def _produce_client(bootstrap: str, topic: str, chunk: Chunk) -> list[Placed]:
    records = [
        ForeignRecord(
            r.key,
            r.value,
            [(name.decode(), value) for name, value in r.headers],
            partition=r.partition,
        )
        for r in chunk.records
    ]
    landed = await asyncio.to_thread(
        produce_foreign, bootstrap, topic, records, codec=chunk.codec, linger_ms=20
    )
    for record, where in zip(chunk.records, landed, strict=True):
        assert where.partition == record.partition
    return [Placed(r, where.offset) for r, where in zip(chunk.records, landed, strict=True)]


async def _produce_raw(bootstrap: str, topic: str, chunk: Chunk) -> list[Placed]:
    (partition,) = {r.partition for r in chunk.records}
    batch = raw_batch(
        [(r.key, r.value, [(n, v or b"") for n, v in r.headers]) for r in chunk.records],
        corrupt_crc=chunk.corrupt_crc,
    )
    base = await produce_raw(bootstrap, topic, partition, batch)
    return [Placed(r, base + i) for i, r in enumerate(chunk.records)]
