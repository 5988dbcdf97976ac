"""One seeded run from start to judgement, and the command that replays it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from generative.check import judge
from generative.plan import draw_plan
from generative.request_log import logged_receiver
from generative.run import Outcome, run_stream

SEED_ENV = "SIGNAL_RELAY_STREAM_SEED"
SIZE_ENV = "SIGNAL_RELAY_STREAM_SIZE"


@dataclass(frozen=True, slots=True)
class Verdict:
    """A judged run: its problems, what it observed and how long it took."""

    problems: list[str]
    outcome: Outcome
    seconds: float

    def summary(self) -> str:
        """One line of figures."""
        o = self.outcome
        return (
            f"{len(o.placed)} records, {len(o.samples)} commit samples, {o.kills} kill(s), "
            f"{len(o.letters)} dead letters, {self.seconds:.1f}s"
        )


async def run_seed(
    bootstrap: str,
    topic: str,
    workdir: Path,
    *,
    seed: int,
    size: int,
    kills: int,
    relays: int,
    settle_seconds: float,
) -> Verdict:
    """Draw the seed's plan, run it against a fresh receiver and judge the outcome."""
    started = time.monotonic()
    plan = draw_plan(seed, size, kills=kills, relays=relays)
    with logged_receiver() as receiver:
        outcome = await run_stream(
            bootstrap, topic, plan, receiver, workdir, settle_seconds=settle_seconds
        )
        problems = judge(outcome, receiver[0])
    return Verdict(problems, outcome, time.monotonic() - started)


def failure_report(verdict: Verdict, command: str) -> str:
    """The problems, the relay logs to read, and how to replay the seed."""
    lines = [*verdict.problems, verdict.summary()]
    lines += [f"relay log: {path}" for path in verdict.outcome.logs]
    lines.append(f"replay: {command}")
    return "\n".join(lines)
