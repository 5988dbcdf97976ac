"""Seeded random streams (every record kind, every codec) under relay SIGKILLs: all end right.

Each seed draws a stream over several partitions and keys: valid signals, invalid JSON,
schema violations, tombstones, oversized values (OUTBOUND_MAX_BODY_SIZE is 4096 here),
non-UTF-8 header keys and corrupt-CRC batches, in librdkafka batches of a random codec and
hand-built raw batches. Two relay processes consume it while it is produced; one is SIGKILLed
and replaced mid-stream. `SIGNAL_RELAY_STREAM_SEED=N` runs that one seed instead of the
default ones (with `SIGNAL_RELAY_STREAM_SIZE` records); a failure prints that command.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import TopicFactory
from generative.plan import draw_plan
from generative.replay import SEED_ENV, SIZE_ENV, failure_report, run_seed

DEFAULT_SEEDS = (2, 9, 10)  # 3, 4 and 6 partitions; bad header keys and a bad CRC among them
DEFAULT_SIZE = 150
SEEDS = (int(os.environ[SEED_ENV]),) if os.environ.get(SEED_ENV) else DEFAULT_SEEDS
SIZE = int(os.environ.get(SIZE_ENV) or DEFAULT_SIZE)


@pytest.mark.parametrize("seed", SEEDS)
async def test_stream_ends_right_under_relay_kills(
    seed: int, kafka_bootstrap: str, new_topic: TopicFactory, tmp_path: Path
) -> None:
    """Every valid signal delivered in key order, every odd record dead-lettered, all committed."""
    topic = await new_topic(draw_plan(seed, SIZE, kills=1, relays=2).partitions)
    verdict = await run_seed(
        kafka_bootstrap, topic, tmp_path, seed=seed, size=SIZE, kills=1, relays=2, settle_seconds=60
    )
    command = (
        f"{SEED_ENV}={seed} {SIZE_ENV}={SIZE} .venv/bin/pytest tests/test_generative_stream.py"
    )
    print(f"\nseed {seed}: {verdict.summary()}")
    assert not verdict.problems, failure_report(verdict, command)
