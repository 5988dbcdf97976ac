"""Re-sends after a crash or a stop: what a successor posts again, against its bound.

`measure_crash`: SIGKILL the relay mid-backlog at full speed, start a new one. Whatever was
delivered but neither committed nor recorded in the last commit's metadata (the final offsets
above the committed one, docs/PROTOCOL.md §8.2) is sent again by its successor, with the same
idempotency key. `measure_stuck_stop`: one key stuck on 503 while the others finish, SIGTERM,
restart: only the stuck record was in flight.

The bound (issue 11 item 5): the requests in flight at that moment (`RELAY_MAX_IN_FLIGHT`) plus
one commit interval's worth of deliveries. The receiver's ledger counts validly signed requests
per signal, so a signal with more than one was posted twice. A broker that does not keep
commit metadata (the bundled Tansu answers every OffsetFetch with empty metadata) resumes from
the contiguous commit alone, as before: the figures then show what the metadata would save.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer

from bench.backlog import Backlog, load_backlog
from bench.end_to_end import Stage
from bench.processes import BenchError, wait_for
from bench.receiver import LedgerWatch
from bench.records import bench_records
from bench.relay import relay_env, running_relay
from consumer.devkit import tansu_keeping_metadata
from consumer.tools import committed_offsets, ensure_topic
from schemas.record import parse_candidate
from signing.canonical import canonical_body

__all__ = [
    "CrashRun",
    "KeptRuns",
    "StuckStopRun",
    "measure_crash",
    "measure_kept",
    "measure_stuck_stop",
]

_WAIT_SECONDS = 120.0
# The relay's defaults (consumer/config/_relay.py), which these runs keep.
_MAX_IN_FLIGHT = 128
_COMMIT_INTERVAL_SECONDS = 0.2
_STUCK_KEY = b"STUCK"
_STOP_GRACE_SECONDS = 4
_RATE_WINDOW_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class CrashRun:
    """What a SIGKILL cost.

    Attributes:
        total: signals in the backlog.
        accepted_at_kill: distinct signals accepted when the relay was killed.
        duplicated: signals posted more than once.
        extra_posts: posts beyond the first, summed over all signals.
        recovery_seconds: from the kill to the successor's first new 201.
        lost: signals never accepted (must be 0).
        rate: signals accepted per second in the last second before the kill.
        bound: requests in flight plus one commit interval's worth at `rate`.
    """

    total: int
    accepted_at_kill: int
    duplicated: int
    extra_posts: int
    recovery_seconds: float
    lost: int
    rate: float = 0.0
    bound: int = 0


@dataclass(frozen=True, slots=True)
class StuckStopRun:
    """What a SIGTERM with one key stuck cost.

    Attributes:
        finished: signals accepted above the stuck one before the SIGTERM.
        duplicated: signals posted more than once.
        bound: what was in flight at the stop (the stuck record).
        skipped: records the successor skipped as finished (`signal_relay_skipped_finished`).
        lost: signals never accepted (must be 0).
    """

    finished: int
    duplicated: int
    bound: int
    skipped: int
    lost: int


async def measure_crash(stage: Stage, backlog: Backlog) -> CrashRun:
    """Kill the relay once half of `backlog` is accepted; a successor finishes the job."""
    receiver = stage.receiver
    await receiver.set_faults()
    await receiver.clear()
    group = f"crash-{uuid.uuid4().hex[:8]}"
    env = relay_env(stage.bootstrap, backlog.topic, receiver.url, KAFKA_GROUP_ID=group)
    async with running_relay(env, stage.logs / "relay-crash.log") as relay:
        before_kill = await receiver.watch(backlog.count // 2, _WAIT_SECONDS)
        await relay.kill()
    killed_at = time.monotonic()
    accepted_at_kill = await receiver.accepted()
    successor = relay_env(stage.bootstrap, backlog.topic, receiver.url, KAFKA_GROUP_ID=group)
    async with running_relay(successor, stage.logs / "relay-crash.log"):
        resumed = await receiver.watch(accepted_at_kill + 1, _WAIT_SECONDS)

        async def all_committed() -> bool:
            offsets = await committed_offsets(stage.bootstrap, group, backlog.topic)
            return offsets == backlog.ends

        await wait_for(all_committed, _WAIT_SECONDS, "the successor to commit the backlog")
    ledger = await receiver.ledger(detail=True)
    deliveries: dict[str, int] = ledger["deliveries"]
    if int(ledger["accepted"]) > backlog.count:
        raise BenchError(f"{ledger['accepted']} signals accepted from {backlog.count} records")
    return CrashRun(
        total=backlog.count,
        accepted_at_kill=accepted_at_kill,
        duplicated=sum(1 for n in deliveries.values() if n > 1),
        extra_posts=sum(n - 1 for n in deliveries.values()),
        recovery_seconds=resumed.last_at - killed_at,
        lost=backlog.count - int(ledger["accepted"]),
        rate=_recent_rate(before_kill),
        bound=_MAX_IN_FLIGHT + math.ceil(_recent_rate(before_kill) * _COMMIT_INTERVAL_SECONDS),
    )


def _recent_rate(watch: LedgerWatch) -> float:
    """Acceptances per second over the last second before the kill (the rate at that moment)."""
    end_at, end_count = watch.samples[-1]
    start_at, start_count = next(
        (at, n) for at, n in watch.samples if at >= end_at - _RATE_WINDOW_SECONDS
    )
    if end_at - start_at <= 0:
        return watch.rate
    return (end_count - start_count) / (end_at - start_at)


@dataclass(frozen=True, slots=True)
class KeptRuns:
    """Both runs again with the commit metadata kept (`consumer/devkit/_metadata_keeper.py`).

    Attributes:
        crash: the SIGKILL run.
        stuck_stop: the SIGTERM run with one key stuck.
        filled: OffsetFetch answers the proxy filled with the committed metadata.
    """

    crash: CrashRun
    stuck_stop: StuckStopRun
    filled: int


async def measure_kept(stage: Stage, crash_backlog: int, stuck_others: int) -> KeptRuns:
    """The SIGKILL and stuck-key runs on a Tansu of their own behind a metadata-keeping proxy."""
    async with tansu_keeping_metadata() as (bootstrap, keeper):
        kept = Stage(bootstrap, stage.receiver, stage.logs)
        crash = await measure_crash(kept, await load_backlog(bootstrap, crash_backlog))
        stuck = await measure_stuck_stop(kept, stuck_others)
    return KeptRuns(crash, stuck, keeper.filled)


async def measure_stuck_stop(stage: Stage, others: int) -> StuckStopRun:
    """One partition: a stuck key at offset 0, `others` signals that finish; SIGTERM; restart."""
    receiver = stage.receiver
    await receiver.clear()
    topic, stuck_id = await _stuck_topic(stage.bootstrap, others)
    await receiver.set_faults(status_by_instrument={_STUCK_KEY.decode(): 503})
    group = f"stuck-{uuid.uuid4().hex[:8]}"
    env = relay_env(
        stage.bootstrap,
        topic,
        receiver.url,
        KAFKA_GROUP_ID=group,
        RELAY_SHUTDOWN_GRACE_SECONDS=_STOP_GRACE_SECONDS,
    )
    log = stage.logs / "relay-stuck.log"
    async with running_relay(env, log):
        await receiver.watch(others, _WAIT_SECONDS)
    finished = await receiver.accepted()
    await receiver.set_faults()
    async with running_relay(env, log) as successor:

        async def all_committed() -> bool:
            return await committed_offsets(stage.bootstrap, group, topic) == {0: others + 1}

        await wait_for(all_committed, _WAIT_SECONDS, "the successor to commit every record")
        skipped = _counter(await successor.metrics(), "signal_relay_skipped_finished_total")
    ledger = await receiver.ledger(detail=True)
    deliveries: dict[str, int] = ledger["deliveries"]
    return StuckStopRun(
        finished=finished,
        # The stuck signal's 503 answers are attempts, not re-sends.
        duplicated=sum(1 for signal_id, n in deliveries.items() if n > 1 and signal_id != stuck_id),
        bound=1,
        skipped=int(skipped),
        lost=others + 1 - int(ledger["accepted"]),
    )


async def _stuck_topic(bootstrap: str, others: int) -> tuple[str, str]:
    """A one-partition topic: the stuck key's signal at offset 0, then `others` signals.

    Returns the topic and the stuck signal's `signal_id`.
    """
    topic = f"stuck-{uuid.uuid4().hex[:12]}"
    await ensure_topic(bootstrap, topic, 1)
    await ensure_topic(bootstrap, f"{topic}.dlq")
    records = list(bench_records(others + 1, tag=f"-{topic[-6:]}"))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    try:
        head = records[0]
        value = head.value.replace(b'"instrument":"' + head.key + b'"', b'"instrument":"STUCK"')
        await producer.send_and_wait(topic, value=value, key=_STUCK_KEY)
        for record in records[1:]:
            await producer.send(topic, value=record.value, key=record.key)
        await producer.flush()
    finally:
        await producer.stop()
    return topic, canonical_body(parse_candidate(value)).signal_id


def _counter(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0
