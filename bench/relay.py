"""`signal-relay run` as a child process: its environment, readiness, metrics and latency."""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

import aiohttp

from bench.processes import BenchError, free_port, start_process, stop_process, wait_for
from bench.records import SECRET

__all__ = [
    "PRODUCER_ID",
    "RelayProcess",
    "histogram_quantile",
    "relay_env",
    "running_relay",
]

PRODUCER_ID = "bench-relay"
_READY_SECONDS = 60.0
_LATENCY_HISTOGRAM = "signal_relay_consume_to_delivered_seconds"


def relay_env(
    bootstrap: str, topic: str, server_url: str, **overrides: str | int | float
) -> dict[str, str]:
    """The relay's environment: production defaults, a group of its own, a local ops port."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_TOPIC": topic,
        "KAFKA_GROUP_ID": f"{topic}-relay",
        "HMAC_PRODUCER_SECRET": SECRET,
        "PRODUCER_ID": PRODUCER_ID,
        "OUTBOUND_SERVER_URL": server_url,
        "RELAY_METRICS_HOST": "127.0.0.1",
        "RELAY_METRICS_PORT": str(free_port()),
        "LOG_LEVEL": "INFO",
    }
    env.update({name: str(value) for name, value in overrides.items()})
    return env


class RelayProcess:
    """One running relay process and its operations port."""

    def __init__(
        self, process: asyncio.subprocess.Process, ops_url: str, session: aiohttp.ClientSession
    ) -> None:
        self.process = process
        self.ops_url = ops_url
        self._session = session

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.process.pid

    async def ready(self) -> bool:
        """Whether `/readyz` answers 200 (in the group, broker reachable, not paused)."""
        if self.process.returncode is not None:
            raise BenchError(f"the relay exited with {self.process.returncode}")
        try:
            async with self._session.get(f"{self.ops_url}/readyz") as response:
                return response.status == 200
        except aiohttp.ClientError:
            return False

    async def metrics(self) -> str:
        """The Prometheus text exposition of the relay."""
        async with self._session.get(f"{self.ops_url}/metrics") as response:
            return await response.text()

    async def latency_quantiles(self, *quantiles: float) -> tuple[float, ...]:
        """Quantiles (seconds) of fetch-to-201, interpolated in the relay's histogram buckets."""
        buckets = parse_histogram(await self.metrics(), _LATENCY_HISTOGRAM)
        return tuple(histogram_quantile(q, buckets) for q in quantiles)

    async def kill(self) -> None:
        """SIGKILL the relay: no drain, no commit."""
        await stop_process(self.process, sig=signal.SIGKILL)


def parse_histogram(text: str, name: str) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) of every bucket of histogram `name`, by bound."""
    prefix = f'{name}_bucket{{le="'
    buckets = []
    for line in text.splitlines():
        if line.startswith(prefix):
            bound, _, rest = line[len(prefix) :].partition('"}')
            buckets.append((float(bound), float(rest.split()[0])))
    return sorted(buckets)


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus' `histogram_quantile`: linear interpolation inside the bucket holding `q`."""
    if not buckets or buckets[-1][1] == 0:
        return math.nan
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            share = (rank - lower_count) / (count - lower_count) if count > lower_count else 0.0
            return lower_bound + (bound - lower_bound) * share
        lower_bound, lower_count = bound, count
    return lower_bound


@contextlib.asynccontextmanager
async def running_relay(
    env: Mapping[str, str],
    log_path: Path,
    *,
    wait_ready: bool = True,
    command: Sequence[str] = (sys.executable, "-m", "consumer", "run"),
) -> AsyncIterator[RelayProcess]:
    """A `signal-relay run` child; yields once it is ready; SIGTERM (then SIGKILL) on exit."""
    process = await start_process(command, env, log_path)
    try:
        async with aiohttp.ClientSession() as session:
            relay = RelayProcess(process, f"http://127.0.0.1:{env['RELAY_METRICS_PORT']}", session)
            if wait_ready:
                await wait_for(relay.ready, _READY_SECONDS, "the relay to join its group")
            yield relay
    finally:
        await stop_process(process)
