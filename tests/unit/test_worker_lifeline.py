"""A worker's lifeline: it learns its supervisor is gone (pipe, parent-death signal) and stops."""

import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import pytest
from conftest import eventually

from consumer.cli._lifeline import ORPHAN_GRACE_SECONDS, ORPHAN_KILL_SECONDS, Lifeline

# A worker's stand-in: holds the lifeline, reports the stop it is asked for, and ends on it
# unless told to ignore it.
WORKER = """
import asyncio, os, sys
from consumer.cli._lifeline import hold

async def main():
    done = asyncio.Event()
    def stop(within):
        print(f"stop {within}", flush=True)
        if not os.environ.get("IGNORE_STOP"):
            done.set()
    assert hold(os.environ, stop)
    print("held", flush=True)
    await done.wait()

asyncio.run(main())
"""

# A supervisor's stand-in: starts WORKER with the inherited lifeline, as the supervisor would.
SUPERVISOR = f"""
import os, subprocess, sys
env = dict(os.environ, SIGNAL_RELAY_SUPERVISOR_PID=str(os.getpid()))
fd = int(env["SIGNAL_RELAY_LIFELINE_FD"])
worker = subprocess.Popen([sys.executable, "-c", {WORKER!r}], env=env, pass_fds=(fd,))
print(worker.pid, flush=True)
worker.wait()
"""


@contextmanager
def started(script: str, lifeline: Lifeline, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """`script` as a child holding `lifeline`'s read end; killed if the test leaves it running."""
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        env=_env(lifeline.env() | env),
        pass_fds=lifeline.pass_fds,
        stdout=subprocess.PIPE,
        bufsize=0,  # unbuffered: select() sees every line the child wrote
    )
    try:
        yield child
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(10)
        assert child.stdout is not None
        child.stdout.close()


def _env(extra: Mapping[str, str]) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **extra}


def line(child: subprocess.Popen[bytes], within: float = 10) -> str:
    """The child's next line of output; fails after `within` s rather than hanging."""
    assert child.stdout is not None
    ready, _, _ = select.select([child.stdout], [], [], within)
    assert ready, f"no output within {within} s"
    return child.stdout.readline().decode().strip()


def test_a_broken_lifeline_asks_the_worker_for_the_short_stop() -> None:
    """The supervisor's end closing (as at its death) stops the worker within the orphan grace."""
    lifeline = Lifeline()
    with started(WORKER, lifeline) as worker:
        assert line(worker) == "held"
        lifeline.close()
        assert line(worker) == f"stop {ORPHAN_GRACE_SECONDS}"
        assert worker.wait(10) == 0


def test_an_orphan_that_does_not_stop_is_killed() -> None:
    """A worker still running ORPHAN_KILL_SECONDS after the lifeline broke is SIGKILLed."""
    lifeline = Lifeline()
    with started(WORKER, lifeline, IGNORE_STOP="1") as worker:
        assert line(worker) == "held"
        broke = time.monotonic()
        lifeline.close()
        assert line(worker) == f"stop {ORPHAN_GRACE_SECONDS}"
        assert worker.wait(ORPHAN_KILL_SECONDS + 5) == -9
        assert time.monotonic() - broke >= ORPHAN_KILL_SECONDS - 0.5


def test_a_worker_whose_parent_is_not_its_supervisor_is_an_orphan_at_once() -> None:
    """The supervisor died before the worker set its parent-death signal: it stops at once."""
    lifeline = Lifeline()
    with started(WORKER, lifeline, SIGNAL_RELAY_SUPERVISOR_PID="1") as worker:
        assert line(worker) == "held"
        assert line(worker) == f"stop {ORPHAN_GRACE_SECONDS}"
        assert worker.wait(10) == 0
    lifeline.close()


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
async def test_the_parent_death_signal_stops_a_worker_whose_lifeline_is_still_open() -> None:
    """Its supervisor SIGKILLed while another process keeps the pipe open: SIGHUP stops it."""
    lifeline = Lifeline()  # this test holds the write end: the pipe never breaks
    with started(SUPERVISOR, lifeline) as parent:
        worker = int(line(parent))
        assert line(parent) == "held"
        parent.kill()
        assert line(parent) == f"stop {ORPHAN_GRACE_SECONDS}"
        await eventually(lambda: not _running(worker), 10, "the worker to end")
    lifeline.close()


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False
