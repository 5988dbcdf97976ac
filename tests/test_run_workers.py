"""`signal-relay run --workers N`: N group members under one supervisor, as one service."""

import asyncio
import os
import signal
import subprocess
import sys
import urllib.request
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import orjson
from conftest import RunningReceiver, TopicFactory, eventually, eventually_async
from relay_harness import (
    Published,
    end_offsets,
    expected_signal_id,
    free_port,
    keyed_signals,
    publish,
    relay_env,
    subprocess_env,
)

from consumer.tools import committed_offsets, ensure_topic
from signing.receiver import Faults, Ledger


@contextmanager
def supervisor(
    env: Mapping[str, str], log: Path, workers: str = "2"
) -> Iterator[subprocess.Popen[bytes]]:
    """`signal-relay run --workers N` as a child process; killed (with its group) if left."""
    command = [sys.executable, "-m", "consumer", "run", "--workers", workers]
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            env=subprocess_env(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def events(log: Path, name: str) -> list[dict[str, object]]:
    """The JSON log events called `name` (the supervisor's and the workers', interleaved)."""
    found = []
    for line in log.read_bytes().splitlines():
        if line.startswith(b"{") and f'"{name}"'.encode() in line:
            event = orjson.loads(line)
            if event.get("event") == name:
                found.append(event)
    return found


def _seq(body: bytes) -> int:
    return int(orjson.loads(body)["note"].removeprefix("seq="))


def assert_delivered_in_key_order(ledger: Ledger, published: list[Published]) -> None:
    """Every signal accepted (once or more), each key's first deliveries in publish order."""
    assert {s.signal_id for s in ledger.accepted} == {
        expected_signal_id(p.value) for p in published
    }
    by_key: dict[str, list[int]] = defaultdict(list)
    for accepted in ledger.accepted:
        by_key[accepted.instrument].append(_seq(accepted.body))
    assert all(seqs == sorted(seqs) for seqs in by_key.values())


def metrics_ports() -> int:
    """A port P with P+1 and P+2 free too (the supervisor's and two workers')."""
    while True:
        port = free_port()
        if port < 65000 and all(_free(port + i) for i in (1, 2)):
            return port


def _free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text: str = answer.read().decode()
        return text


async def test_two_workers_deliver_everything_in_key_order_and_stop_on_sigterm(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver, tmp_path: Path
) -> None:
    """Two static members share 4 partitions, one /metrics shows both, SIGTERM exits 0."""
    topic = await new_topic(4)
    await ensure_topic(kafka_bootstrap, f"{topic}.dlq")
    published = await publish(
        kafka_bootstrap, topic, keyed_signals([f"S{i}" for i in range(12)], 25)
    )
    port = metrics_ports()
    env = relay_env(
        kafka_bootstrap,
        topic,
        receiver.url,
        RELAY_METRICS_PORT=port,
        KAFKA_GROUP_INSTANCE_ID="relay-a",
        LOG_FORMAT="json",
    )
    log = tmp_path / "supervisor.log"
    with supervisor(env, log) as process:

        async def all_committed() -> bool:
            got = await committed_offsets(kafka_bootstrap, env["KAFKA_GROUP_ID"], topic)
            return got == end_offsets(published)

        await eventually_async(all_committed, 120, "every offset committed by the workers")
        text = await asyncio.to_thread(scrape, port)
        for worker in ("0", "1"):
            assert f'signal_relay_worker_up{{worker="{worker}"}} 1.0' in text
            assert f'signal_relay_records_consumed_total{{worker="{worker}"}}' in text
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 60) == 0
    assert_delivered_in_key_order(receiver.app.ledger, published)
    assert sorted(str(e["worker"]) for e in events(log, "worker_exited")) == ["0", "1"]
    assert {e["status"] for e in events(log, "worker_exited")} == {0}


async def test_a_killed_worker_is_restarted_and_delivery_completes(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver, tmp_path: Path
) -> None:
    """SIGKILL one worker mid-stream: the supervisor starts it again; nothing is lost."""
    topic = await new_topic(4)
    await ensure_topic(kafka_bootstrap, f"{topic}.dlq")
    published = await publish(
        kafka_bootstrap, topic, keyed_signals([f"S{i}" for i in range(12)], 40)
    )
    receiver.app.faults = Faults(latency_ms=20)
    env = relay_env(kafka_bootstrap, topic, receiver.url, LOG_FORMAT="json")
    log = tmp_path / "supervisor.log"
    ledger = receiver.app.ledger
    with supervisor(env, log) as process:
        assert await asyncio.to_thread(ledger.wait_until, lambda led: led.accepted_count >= 50, 60)
        victim = int(str(events(log, "worker_started")[0]["pid"]))
        os.kill(victim, signal.SIGKILL)
        await eventually(
            lambda: len(events(log, "worker_started")) == 3, 60, "the worker to be restarted"
        )
        receiver.app.faults = Faults()

        async def all_committed() -> bool:
            got = await committed_offsets(kafka_bootstrap, env["KAFKA_GROUP_ID"], topic)
            return got == end_offsets(published)

        await eventually_async(all_committed, 120, "every offset committed after the restart")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 60) == 0
    assert_delivered_in_key_order(ledger, published)
    assert len(events(log, "worker_crashed")) == 1


async def test_a_worker_refused_at_start_stops_the_supervisor_with_status_2(
    kafka_bootstrap: str, receiver: RunningReceiver, tmp_path: Path
) -> None:
    """A missing topic refuses every worker (exit 2): the supervisor exits 2, restarting none."""
    env = relay_env(kafka_bootstrap, "no-such-topic-for-workers", receiver.url, LOG_FORMAT="json")
    log = tmp_path / "supervisor.log"
    with supervisor(env, log) as process:
        assert await asyncio.to_thread(process.wait, 60) == 2
    assert len(events(log, "worker_started")) == 2
    assert events(log, "worker_crashed") == []


def test_a_bad_setting_exits_2_before_any_worker_starts(tmp_path: Path) -> None:
    """A setting the supervisor can check itself is refused once, with no worker started."""
    env = {"KAFKA_TOPIC": "t", "RELAY_MAX_IN_FLIGHT": "-1", "LOG_FORMAT": "json"}
    log = tmp_path / "supervisor.log"
    with supervisor(env, log) as process:
        assert process.wait(30) == 2
    assert events(log, "worker_started") == []
    assert b"RELAY_MAX_IN_FLIGHT" in log.read_bytes()


async def test_a_restarted_static_worker_takes_its_partitions_back_without_a_rebalance(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver, tmp_path: Path
) -> None:
    """With KAFKA_GROUP_INSTANCE_ID, a killed worker rejoins as `<id>-0`: the other keeps all."""
    topic = await new_topic(4)
    await ensure_topic(kafka_bootstrap, f"{topic}.dlq")
    env = relay_env(
        kafka_bootstrap,
        topic,
        receiver.url,
        LOG_FORMAT="json",
        KAFKA_GROUP_INSTANCE_ID="relay-static",
        KAFKA_SESSION_TIMEOUT_MS=30000,
        KAFKA_HEARTBEAT_INTERVAL_MS=2000,
    )
    log = tmp_path / "supervisor.log"

    def assignments() -> list[list[int]]:
        return [list(map(int, e["partitions"])) for e in events(log, "partitions_assigned")]  # type: ignore[call-overload]

    with supervisor(env, log) as process:
        await eventually(lambda: len(assignments()) == 2, 60, "both workers to own partitions")
        first = assignments()
        victim = int(str(events(log, "worker_started")[0]["pid"]))
        os.kill(victim, signal.SIGKILL)
        await eventually(lambda: len(assignments()) == 3, 90, "the restarted worker to rejoin")
        assert events(log, "partitions_revoked") == []
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 60) == 0
    assert sorted(p for ps in first for p in ps) == [0, 1, 2, 3]
    assert assignments()[2] in first
