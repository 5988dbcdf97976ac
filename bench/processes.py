"""Child processes of the benchmark: ports, waiting on conditions, stopping, memory sampling."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path

import orjson
import psutil

__all__ = [
    "BenchError",
    "RssSampler",
    "free_port",
    "listening",
    "run_child",
    "sampling_rss",
    "start_process",
    "stop_process",
    "wait_for",
]

_STOP_SECONDS = 15.0
_CHILD_SECONDS = 300.0
_RSS_INTERVAL = 0.05


class BenchError(RuntimeError):
    """A benchmark step failed: a child did not start, a target count was not reached."""


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def listening(port: int) -> bool:
    """Whether something accepts TCP connections on loopback `port`."""
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def wait_for(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    """Poll `check` until it holds; raise `BenchError` naming `what` after `within` s."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {within:g}s waiting for {what}")
        await asyncio.sleep(0.05)


async def start_process(
    command: Sequence[str], env: Mapping[str, str], log_path: Path
) -> asyncio.subprocess.Process:
    """Start `command` with `env` added to ours, its output appended to `log_path`."""
    with log_path.open("ab") as log:
        return await asyncio.create_subprocess_exec(
            *command, env={**os.environ, **env}, stdout=log, stderr=asyncio.subprocess.STDOUT
        )


async def stop_process(process: asyncio.subprocess.Process, *, sig: int = signal.SIGTERM) -> int:
    """Send `sig` (SIGKILL when it lingers past a bound) and reap; returns the exit code."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        try:
            async with asyncio.timeout(_STOP_SECONDS):
                await process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    return process.returncode if process.returncode is not None else -1


async def run_child(module: str, args: list[str], log_path: Path) -> dict[str, float]:
    """Run `python -m module args...`; its last stdout line is a JSON object of results."""
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, *args, stdout=asyncio.subprocess.PIPE, stderr=log
        )
        try:
            async with asyncio.timeout(_CHILD_SECONDS):
                out, _ = await process.communicate()
        except TimeoutError:
            await stop_process(process)
            raise BenchError(f"{module} did not finish within {_CHILD_SECONDS:g}s") from None
    if process.returncode != 0:
        raise BenchError(f"{module} exited with {process.returncode}; see {log_path}")
    result: dict[str, float] = orjson.loads(out.splitlines()[-1])
    return result


class RssSampler:
    """Peak resident memory of one process, sampled in the background.

    Attributes:
        peak: the largest RSS seen, in bytes.
        samples: every (monotonic time, RSS bytes) sample.
    """

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self.peak = 0
        self.samples: list[tuple[float, int]] = []

    def sample(self) -> int:
        """Take one sample now; 0 once the process is gone."""
        try:
            rss: int = self._process.memory_info().rss
        except psutil.Error:
            return 0
        self.samples.append((time.monotonic(), rss))
        self.peak = max(self.peak, rss)
        return rss

    def cpu_seconds(self) -> float:
        """User plus system CPU time the process has used so far."""
        try:
            times = self._process.cpu_times()
        except psutil.Error:
            return float("nan")
        return float(times.user + times.system)


@contextlib.asynccontextmanager
async def sampling_rss(pid: int) -> AsyncIterator[RssSampler]:
    """Sample the RSS of `pid` every 50 ms while the block runs."""
    sampler = RssSampler(pid)

    async def loop() -> None:
        while True:
            sampler.sample()
            await asyncio.sleep(_RSS_INTERVAL)

    task = asyncio.create_task(loop())
    try:
        yield sampler
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sampler.sample()
