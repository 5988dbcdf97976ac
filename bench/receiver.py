"""The reference receiver in a process of its own (its own core), driven over `/_receiver/`."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.processes import BenchError, free_port, start_process, stop_process, wait_for
from bench.records import SECRET

__all__ = ["LedgerWatch", "Receiver", "running_receiver"]

_START_SECONDS = 20.0
_POLL_SECONDS = 0.02


@dataclass(frozen=True, slots=True)
class LedgerWatch:
    """When the receiver's accepted count moved, as seen by polling its ledger.

    Attributes:
        first_at: monotonic time of the first poll that saw an acceptance (after `start`).
        first_count: accepted count at that poll.
        last_at: monotonic time of the first poll that saw the target reached.
        last_count: accepted count at that poll.
        samples: every (monotonic time, accepted) poll.
    """

    first_at: float
    first_count: int
    last_at: float
    last_count: int
    samples: tuple[tuple[float, int], ...]

    @property
    def rate(self) -> float:
        """Acceptances per second from the first to the last 201 seen."""
        span = self.last_at - self.first_at
        return (self.last_count - self.first_count) / span if span > 0 else float("nan")


class Receiver:
    """Control of one running receiver process."""

    def __init__(self, url: str, session: aiohttp.ClientSession, pid: int) -> None:
        self.url = url
        self.pid = pid
        self._session = session

    async def set_faults(self, **faults: object) -> None:
        """Replace the injected faults (`latency_ms`, `error_rate`, ...)."""
        async with self._session.put(f"{self.url}/_receiver/faults", json=faults) as response:
            if response.status != 200:
                raise BenchError(f"PUT faults answered {response.status}: {await response.text()}")

    async def ledger(self, *, detail: bool = False) -> dict[str, Any]:
        """The ledger summary; with `detail`, deliveries per signal too."""
        query = "?detail=1" if detail else ""
        async with self._session.get(f"{self.url}/_receiver/ledger{query}") as response:
            summary: dict[str, Any] = await response.json()
            return summary

    async def accepted(self) -> int:
        """How many distinct signals were accepted."""
        return int((await self.ledger())["accepted"])

    async def clear(self) -> None:
        """Forget every signal and answer (replay memory included)."""
        async with self._session.delete(f"{self.url}/_receiver/ledger") as response:
            await response.read()

    async def watch(self, target: int, within: float) -> LedgerWatch:
        """Poll until `target` signals were accepted; raise `BenchError` after `within` s."""
        samples: list[tuple[float, int]] = []
        first: tuple[float, int] | None = None
        deadline = time.monotonic() + within
        while True:
            count = await self.accepted()
            now = time.monotonic()
            samples.append((now, count))
            if first is None and count > 0:
                first = (now, count)
            if count >= target:
                assert first is not None
                return LedgerWatch(first[0], first[1], now, count, tuple(samples))
            if now > deadline:
                raise BenchError(f"only {count} of {target} signals accepted after {within:g}s")
            await asyncio.sleep(_POLL_SECONDS)


@contextlib.asynccontextmanager
async def running_receiver(log_path: Path) -> AsyncIterator[Receiver]:
    """`signal-relay receiver` on a free loopback port (uvloop and httptools when installed)."""
    port = free_port()
    command = [sys.executable, "-m", "consumer", "receiver", "--port", str(port)]
    process = await start_process(command, {"HMAC_PRODUCER_SECRET": SECRET}, log_path)
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            receiver = Receiver(url, session, process.pid)

            async def healthy() -> bool:
                if process.returncode is not None:
                    raise BenchError(f"the receiver exited with {process.returncode}")
                try:
                    async with session.get(f"{url}/_receiver/health") as response:
                        return response.status == 200
                except aiohttp.ClientError:
                    return False

            await wait_for(healthy, _START_SECONDS, "the receiver to answer")
            yield receiver
    finally:
        await stop_process(process)
