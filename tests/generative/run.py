"""Runs relay processes over a plan while it is produced: SIGKILLs, restarts, commit samples."""

from __future__ import annotations

import asyncio
import contextlib
import random
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka.structs import ConsumerRecord
from relay_harness import relay_env, relay_process

from consumer.tools import committed_offsets, read_topic
from generative.plan import MAX_BODY_SIZE, StreamPlan
from generative.produce import Placed, produce_plan
from generative.request_log import RequestLog

_SAMPLE_EVERY_SECONDS = 0.2
_KILL_WAIT_SECONDS = 120.0


@dataclass(frozen=True, slots=True)
class CommitSample:
    """Committed offsets read at one moment, and what was final right after that read."""

    committed: dict[int, int]
    accepted: frozenset[str]
    dead: frozenset[tuple[int, int]]


@dataclass(slots=True)
class Outcome:
    """What a run produced and observed."""

    placed: list[Placed] = field(default_factory=list)
    samples: list[CommitSample] = field(default_factory=list)
    committed: dict[int, int] = field(default_factory=dict)
    letters: list[ConsumerRecord] = field(default_factory=list)
    kills: int = 0
    completed: bool = False
    logs: list[Path] = field(default_factory=list)

    @property
    def ends(self) -> dict[int, int]:
        """Partition -> one past its last produced offset."""
        ends: dict[int, int] = {}
        for p in self.placed:
            ends[p.record.partition] = max(ends.get(p.record.partition, 0), p.offset + 1)
        return ends


def dead_sources(letters: list[ConsumerRecord]) -> set[tuple[int, int]]:
    """(partition, offset) of the source record of each dead letter."""
    sources = set()
    for letter in letters:
        headers = dict(letter.headers)
        sources.add((int(headers["dlq.source.partition"]), int(headers["dlq.source.offset"])))
    return sources


async def run_stream(
    bootstrap: str,
    topic: str,
    plan: StreamPlan,
    receiver: tuple[RequestLog, str],
    workdir: Path,
    *,
    settle_seconds: float,
) -> Outcome:
    """Produce `plan` under relay processes, kill and restart them on cue, wait for the end."""
    log, url = receiver
    env = relay_env(bootstrap, topic, url, OUTBOUND_MAX_BODY_SIZE=MAX_BODY_SIZE)
    outcome = Outcome()
    rng = random.Random(plan.seed ^ 0x5EED)
    with contextlib.ExitStack() as stack:
        relays: list[subprocess.Popen[bytes]] = []

        def start() -> None:
            path = workdir / f"relay-{len(outcome.logs)}.log"
            outcome.logs.append(path)
            relays.append(stack.enter_context(relay_process(env, path)))

        for _ in range(plan.relays):
            start()
        producing = asyncio.create_task(produce_plan(bootstrap, topic, plan, outcome.placed.extend))
        stop = asyncio.Event()
        sampling = asyncio.create_task(
            _sample(bootstrap, env["KAFKA_GROUP_ID"], topic, log, outcome, stop)
        )
        valid = sum(r.reason is None for r in plan.records)
        for fraction in plan.kills:
            await asyncio.to_thread(_wait_accepted, log, max(1, int(fraction * valid)))
            victim = relays.pop(rng.randrange(len(relays)))
            victim.kill()
            victim.wait(10)
            outcome.kills += 1
            start()
        await producing
        outcome.completed = await _until_committed(
            bootstrap, env["KAFKA_GROUP_ID"], topic, outcome, settle_seconds
        )
        stop.set()
        await sampling
    outcome.committed = await committed_offsets(bootstrap, env["KAFKA_GROUP_ID"], topic)
    outcome.letters = await read_topic(bootstrap, f"{topic}.dlq")
    return outcome


async def _until_committed(
    bootstrap: str, group: str, topic: str, outcome: Outcome, within: float
) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if await committed_offsets(bootstrap, group, topic) == outcome.ends:
            return True
        await asyncio.sleep(0.1)
    return False


async def _sample(
    bootstrap: str, group: str, topic: str, log: RequestLog, outcome: Outcome, stop: asyncio.Event
) -> None:
    """Commits first, then what was final: whatever was committed at the read is final by now."""
    while not stop.is_set():
        committed = await committed_offsets(bootstrap, group, topic)
        accepted = frozenset(a.signal_id for a in log.app.ledger.accepted)
        dead = frozenset(dead_sources(await read_topic(bootstrap, f"{topic}.dlq")))
        outcome.samples.append(CommitSample(committed, accepted, dead))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), _SAMPLE_EVERY_SECONDS)


def _wait_accepted(log: RequestLog, count: int) -> None:
    """Block until the receiver accepted `count` signals; a kill cue that never comes fails."""
    if not log.app.ledger.wait_until(lambda led: led.accepted_count >= count, _KILL_WAIT_SECONDS):
        raise AssertionError(f"{count} signals not accepted within {_KILL_WAIT_SECONDS:g}s")
