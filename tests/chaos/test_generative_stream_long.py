"""Many seeded streams, longer, with several relay SIGKILLs each (`make chaos`).

The long variant of tests/test_generative_stream.py: `SIGNAL_RELAY_SEEDS` (a count, or
comma-separated seeds; default 10 seeds from 100), `SIGNAL_RELAY_STREAM_SIZE` records each
(default 1000), three kills and two relays at a time. `SIGNAL_RELAY_STREAM_SEED=N` runs
that one seed; a failure prints the command.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import TopicFactory
from generative.plan import draw_plan
from generative.replay import SEED_ENV, SIZE_ENV, failure_report, run_seed

SEEDS_ENV = "SIGNAL_RELAY_SEEDS"
KILLS = 3


def _seeds() -> list[int]:
    if os.environ.get(SEED_ENV):
        return [int(os.environ[SEED_ENV])]
    given = os.environ.get(SEEDS_ENV, "10")
    if "," in given:
        return [int(seed) for seed in given.split(",")]
    return list(range(100, 100 + int(given)))


SIZE = int(os.environ.get(SIZE_ENV) or 1000)


@pytest.mark.parametrize("seed", _seeds())
async def test_long_stream_ends_right_under_repeated_relay_kills(
    seed: int, kafka_bootstrap: str, new_topic: TopicFactory, tmp_path: Path
) -> None:
    """Every valid signal delivered in key order, every odd record dead-lettered, all committed."""
    topic = await new_topic(draw_plan(seed, SIZE, kills=KILLS, relays=2).partitions)
    verdict = await run_seed(
        kafka_bootstrap,
        topic,
        tmp_path,
        seed=seed,
        size=SIZE,
        kills=KILLS,
        relays=2,
        settle_seconds=120,
    )
    command = (
        f"SIGNAL_RELAY_CHAOS=1 {SEED_ENV}={seed} {SIZE_ENV}={SIZE} "
        ".venv/bin/pytest tests/chaos/test_generative_stream_long.py"
    )
    print(f"\nseed {seed}: {verdict.summary()}")
    assert not verdict.problems, failure_report(verdict, command)
