"""`signal-relay run --workers N`: a supervisor killed with SIGKILL leaves no worker delivering."""

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
from conftest import RunningReceiver, TopicFactory, eventually, eventually_async
from relay_harness import end_offsets, expected_signal_id, keyed_signals, publish, relay_env
from test_run_workers import events, supervisor

from consumer.cli._lifeline import ORPHAN_KILL_SECONDS
from consumer.tools import committed_offsets, ensure_topic
from signing.receiver import Faults


def alive(pid: int) -> bool:
    """Running, not a zombie nobody reaped yet (a container's init may reap late)."""
    try:
        status: str = psutil.Process(pid).status()
    except psutil.NoSuchProcess:
        return False
    return status != str(psutil.STATUS_ZOMBIE)


def worker_pids(log: Path) -> list[int]:
    return [int(str(event["pid"])) for event in events(log, "worker_started")]


@contextmanager
def reaping(pids: list[int]) -> Iterator[None]:
    """Kill whatever of `pids` a failed test left running."""
    try:
        yield
    finally:
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


async def test_workers_stop_within_seconds_of_their_supervisors_sigkill(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver, tmp_path: Path
) -> None:
    """SIGKILL the supervisor mid-stream: every worker is gone within seconds, no POST after."""
    topic = await new_topic(4)
    await ensure_topic(kafka_bootstrap, f"{topic}.dlq")
    await publish(kafka_bootstrap, topic, keyed_signals([f"S{i}" for i in range(12)], 300))
    receiver.app.faults = Faults(latency_ms=50)
    env = relay_env(kafka_bootstrap, topic, receiver.url, LOG_FORMAT="json")
    log = tmp_path / "supervisor.log"
    ledger = receiver.app.ledger
    pids: list[int] = []
    with supervisor(env, log) as process, reaping(pids):
        assert await asyncio.to_thread(ledger.wait_until, lambda led: led.requests >= 100, 60)
        pids.extend(worker_pids(log))
        assert len(pids) == 2
        at_kill = ledger.requests
        killed = time.monotonic()
        process.kill()
        await eventually(
            lambda: not any(map(alive, pids)), ORPHAN_KILL_SECONDS + 3, "every worker to end"
        )
        gone = time.monotonic() - killed
        at_gone = ledger.requests
        # Requests sent before the end are still held by the receiver (its 50 ms latency); a
        # condition that must not come true: one more request after those.
        await asyncio.to_thread(ledger.wait_until, lambda led: False, 1)
        settled = ledger.requests
        grew = await asyncio.to_thread(ledger.wait_until, lambda led: led.requests > settled, 3)
    print(
        f"supervisor SIGKILL -> last worker gone: {gone:.2f} s; POSTs after the kill: "
        f"{settled - at_kill} ({settled - at_gone} answered after the workers ended)"
    )
    assert not grew
    assert len(events(log, "supervisor_gone")) == 2
    assert len(events(log, "relay_stopped")) == 2  # a drained stop, not the watchdog's kill


async def test_a_restarted_supervisor_runs_exactly_its_own_workers(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver, tmp_path: Path
) -> None:
    """Restarted at once after a SIGKILL, the supervisor's N workers are the only ones left."""
    topic = await new_topic(4)
    await ensure_topic(kafka_bootstrap, f"{topic}.dlq")
    published = await publish(
        kafka_bootstrap, topic, keyed_signals([f"S{i}" for i in range(12)], 100)
    )
    receiver.app.faults = Faults(latency_ms=50)
    env = relay_env(kafka_bootstrap, topic, receiver.url, LOG_FORMAT="json")
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    ledger = receiver.app.ledger
    old: list[int] = []
    with supervisor(env, first_log) as first, reaping(old):
        assert await asyncio.to_thread(ledger.wait_until, lambda led: led.requests >= 100, 60)
        old.extend(worker_pids(first_log))
        first.kill()
    receiver.app.faults = Faults()
    with supervisor(env, second_log) as second:
        await eventually(
            lambda: len(events(second_log, "partitions_assigned")) >= 1,
            60,
            "the new workers to own partitions",
        )
        assert not any(map(alive, old))
        children = psutil.Process(second.pid).children(recursive=True)
        assert sorted(c.pid for c in children) == sorted(worker_pids(second_log))
        assert len(children) == 2

        async def all_committed() -> bool:
            got = await committed_offsets(kafka_bootstrap, env["KAFKA_GROUP_ID"], topic)
            return got == end_offsets(published)

        await eventually_async(all_committed, 120, "every offset committed after the restart")
        second.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(second.wait, 60) == 0
    assert {s.signal_id for s in ledger.accepted} == {
        expected_signal_id(p.value) for p in published
    }
