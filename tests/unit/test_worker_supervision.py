"""The `--workers` supervisor: worker environments, restart backoff, crash loops, refusals."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from conftest import eventually

from consumer.cli._workers import RestartPolicy, Supervisor, parse_workers, worker_env

FAST = RestartPolicy(first_delay=0.01, max_delay=0.02, max_crashes=3, window_seconds=60)


def test_workers_is_a_positive_number_or_auto() -> None:
    """`auto` is the machine's cores; 0, -1 and words are refused."""
    assert parse_workers("3") == 3
    assert parse_workers("auto") >= 1
    for bad in ("0", "-1", "two", ""):
        with pytest.raises(ValueError, match="--workers"):
            parse_workers(bad)


def test_each_worker_gets_its_static_member_id_and_ops_port() -> None:
    """Worker i is `<id>-<i>` and serves on RELAY_METRICS_PORT+1+i; the rest is shared."""
    env = {"KAFKA_GROUP_INSTANCE_ID": "relay-a", "RELAY_METRICS_PORT": "9100", "X": "y"}
    assert worker_env(env, 1) == {
        "KAFKA_GROUP_INSTANCE_ID": "relay-a-1",
        "RELAY_METRICS_PORT": "9102",
        "SIGNAL_RELAY_WORKER": "1",
        "X": "y",
    }


def test_without_a_static_id_or_an_ops_port_none_is_made_up() -> None:
    """No KAFKA_GROUP_INSTANCE_ID: dynamic members; RELAY_METRICS_PORT=0: no ops port at all."""
    env = worker_env({"RELAY_METRICS_PORT": "0"}, 0)
    assert "KAFKA_GROUP_INSTANCE_ID" not in env
    assert env["RELAY_METRICS_PORT"] == "0"


def test_the_restart_delay_doubles_up_to_its_cap() -> None:
    """0.5 s, 1 s, 2 s, ... at most 10 s."""
    policy = RestartPolicy()
    assert [policy.delay(n) for n in (1, 2, 3, 10)] == [0.5, 1.0, 2.0, 10.0]


async def test_a_worker_crashing_in_a_loop_makes_the_supervisor_give_up_with_1() -> None:
    """A worker that always exits 3 is restarted until the crash loop limit, then exit 1."""
    supervisor = Supervisor(
        1, {}, shutdown_grace=1, policy=FAST, command=(sys.executable, "-c", "exit(3)")
    )
    assert await asyncio.wait_for(supervisor.run(), 30) == 1


async def test_a_refusing_worker_is_not_restarted_and_stops_the_others() -> None:
    """Exit 2 from one worker: the other is stopped and the supervisor exits 2."""
    script = (
        "import os, sys, time; "
        "sys.exit(2) if os.environ['SIGNAL_RELAY_WORKER'] == '0' else time.sleep(60)"
    )
    supervisor = Supervisor(
        2, {}, shutdown_grace=1, policy=FAST, command=(sys.executable, "-c", script)
    )
    assert await asyncio.wait_for(supervisor.run(), 30) == 2


async def test_a_stop_is_forwarded_and_a_clean_exit_gives_0(tmp_path: Path) -> None:
    """request_stop() sends SIGTERM to every worker; all exiting 0 gives 0."""
    script = (
        "import os, pathlib, signal, sys, time; "
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0)); "
        f"pathlib.Path({str(tmp_path)!r}, os.environ['SIGNAL_RELAY_WORKER']).touch(); "
        "time.sleep(60)"
    )
    supervisor = Supervisor(
        2, {}, shutdown_grace=5, policy=FAST, command=(sys.executable, "-c", script)
    )
    running = asyncio.create_task(supervisor.run())
    await eventually(lambda: len(list(tmp_path.iterdir())) == 2, 30, "both workers to be up")
    supervisor.request_stop()
    assert await asyncio.wait_for(running, 30) == 0
