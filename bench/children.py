"""The benchmark's child processes, each with an interpreter (and a core) of its own.

`signal-relay run` (the relay as shipped), `signal-relay receiver` (the reference receiver,
driven over `/_receiver/`), and `python -m bench.answerer` (a minimal server that answers 201).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from bench.records import SECRET

__all__ = [
    "Answerer",
    "BenchError",
    "Counts",
    "Receiver",
    "Relay",
    "child",
    "count_until",
    "free_port",
    "relay_env",
    "running_answerer",
    "running_receiver",
    "running_relay",
    "wait_for",
]

_STOP_SECONDS = 15.0
_START_SECONDS = 60.0
_POLL_SECONDS = 0.02


class BenchError(RuntimeError):
    """A benchmark step failed: a child did not start, a count was not reached in time."""


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_for(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    """Poll `check` until it holds; `BenchError` naming `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {within:g}s waiting for {what}")
        await asyncio.sleep(_POLL_SECONDS)


@dataclass(frozen=True, slots=True)
class Counts:
    """(monotonic time, count) polls of a growing count, up to a target.

    Attributes:
        samples: every poll, in order.
    """

    samples: tuple[tuple[float, int], ...]

    @property
    def last(self) -> int:
        """The count at the last poll."""
        return self.samples[-1][1]

    def rate(self, window: float = float("inf")) -> float:
        """Per second, from the first poll that saw the count move to the last poll.

        With `window`, only the polls within `window` seconds of the last one count.
        """
        end_at, end = self.samples[-1]
        start = self.samples[0][1]
        first = next(
            (at, n)
            for at, n in self.samples
            if (n > start or at == end_at) and at >= end_at - window
        )
        span = end_at - first[0]
        return (end - first[1]) / span if span > 0 else float("nan")


async def count_until(count: Callable[[], Awaitable[int]], target: int, within: float) -> Counts:
    """Poll `count` until it reaches `target`; `BenchError` after `within` seconds."""
    samples: list[tuple[float, int]] = []
    deadline = time.monotonic() + within
    while True:
        samples.append((time.monotonic(), await count()))
        if samples[-1][1] >= target:
            return Counts(tuple(samples))
        if samples[-1][0] > deadline:
            raise BenchError(f"only {samples[-1][1]} of {target} answered after {within:g}s")
        await asyncio.sleep(_POLL_SECONDS)


@contextlib.asynccontextmanager
async def child(
    command: Sequence[str], log: Path, env: Mapping[str, str] | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A child process, its output appended to `log`; SIGTERM (SIGKILL if it lingers) at exit."""
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            *command,
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        await stop(process)


async def stop(process: asyncio.subprocess.Process, sig: int = signal.SIGTERM) -> None:
    """Send `sig` and reap; SIGKILL when it outlives a bound."""
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


async def _answers(session: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with session.get(url) as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


# -- the relay -------------------------------------------------------------------------------


def relay_env(bootstrap: str, topic: str, url: str, **overrides: object) -> dict[str, str]:
    """The relay's environment: its defaults, a group of its own, a local ops port."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_TOPIC": topic,
        "KAFKA_GROUP_ID": f"{topic}-relay",
        "HMAC_PRODUCER_SECRET": SECRET,
        "PRODUCER_ID": "bench-relay",
        "OUTBOUND_SERVER_URL": url,
        "RELAY_METRICS_HOST": "127.0.0.1",
        "RELAY_METRICS_PORT": str(free_port()),
    }
    env.update({name: str(value) for name, value in overrides.items()})
    return env


class Relay:
    """One running `signal-relay run`."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self._ps = psutil.Process(process.pid)

    def cpu_seconds(self) -> float:
        """User plus system CPU time of the process so far, all threads."""
        times = self._ps.cpu_times()
        return float(times.user + times.system)

    async def kill(self) -> None:
        """SIGKILL: no drain, no commit."""
        await stop(self.process, signal.SIGKILL)


@contextlib.asynccontextmanager
async def running_relay(env: Mapping[str, str], log: Path) -> AsyncIterator[Relay]:
    """A relay; yields once `/readyz` says it is in its group."""
    command = (sys.executable, "-m", "consumer", "run")
    async with child(command, log, env) as process, aiohttp.ClientSession() as session:
        ready = f"http://127.0.0.1:{env['RELAY_METRICS_PORT']}/readyz"

        async def joined() -> bool:
            if process.returncode is not None:
                raise BenchError(f"the relay exited with {process.returncode}; see {log}")
            return await _answers(session, ready)

        await wait_for(joined, _START_SECONDS, "the relay to join its group")
        yield Relay(process)


# -- the reference receiver ------------------------------------------------------------------


class Receiver:
    """Control of a running reference receiver."""

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self._session = session

    async def set_faults(self, **faults: object) -> None:
        """Replace the injected faults (`latency_ms`, `status_by_instrument`, ...)."""
        async with self._session.put(f"{self.url}/_receiver/faults", json=faults) as response:
            if response.status != 200:
                raise BenchError(f"PUT faults answered {response.status}")

    async def ledger(self, *, detail: bool = False) -> dict[str, Any]:
        """The ledger summary; with `detail`, validly signed requests per signal_id too."""
        query = "?detail=1" if detail else ""
        async with self._session.get(f"{self.url}/_receiver/ledger{query}") as response:
            summary: dict[str, Any] = await response.json()
            return summary

    async def accepted(self) -> int:
        """Distinct signals accepted."""
        return int((await self.ledger())["accepted"])

    async def clear(self) -> None:
        """Forget every signal and answer, replay memory included."""
        async with self._session.delete(f"{self.url}/_receiver/ledger") as response:
            await response.read()


@contextlib.asynccontextmanager
async def running_receiver(log: Path) -> AsyncIterator[Receiver]:
    """`signal-relay receiver` on a free loopback port."""
    port = free_port()
    command = (sys.executable, "-m", "consumer", "receiver", "--port", str(port))
    env = {"HMAC_PRODUCER_SECRET": SECRET}
    async with child(command, log, env) as process, aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{port}"

        async def healthy() -> bool:
            if process.returncode is not None:
                raise BenchError(f"the receiver exited with {process.returncode}; see {log}")
            return await _answers(session, f"{url}/_receiver/health")

        await wait_for(healthy, _START_SECONDS, "the receiver to answer")
        yield Receiver(url, session)


# -- the minimal answerer --------------------------------------------------------------------


class Answerer:
    """Control of a running `bench.answerer`."""

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self._session = session

    async def state(self) -> dict[str, Any]:
        """`posts` answered so far, and publish-to-arrival `latencies` of stamped signals."""
        async with self._session.get(f"{self.url}/_bench") as response:
            state: dict[str, Any] = await response.json()
            return state

    async def posts(self) -> int:
        """POSTs answered so far."""
        return int((await self.state())["posts"])

    async def clear(self) -> None:
        """Forget the count and the latencies."""
        async with self._session.delete(f"{self.url}/_bench") as response:
            await response.read()


@contextlib.asynccontextmanager
async def running_answerer(log: Path) -> AsyncIterator[Answerer]:
    """`python -m bench.answerer` on a free loopback port."""
    port = free_port()
    command = (sys.executable, "-m", "bench.answerer", str(port))
    async with child(command, log) as process, aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{port}"

        async def up() -> bool:
            if process.returncode is not None:
                raise BenchError(f"the answerer exited with {process.returncode}; see {log}")
            return await _answers(session, f"{url}/_bench")

        await wait_for(up, _START_SECONDS, "the answerer to answer")
        yield Answerer(url, session)
