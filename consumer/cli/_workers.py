"""`signal-relay run --workers N|auto`: N group members as child processes under one supervisor.

Each worker is a plain `signal-relay run` child process (one core each) with its own
environment (`worker_env`): with `KAFKA_GROUP_INSTANCE_ID` set, worker i is the static member
`<id>-<i>`, so restarting one worker does not rebalance the others; with the ops port on
(`RELAY_METRICS_PORT` = P), worker i serves its own on P+1+i and the supervisor's P serves
them all (`_worker_metrics.py`).

The supervisor decides four things:

- **Signals.** SIGTERM/SIGINT are forwarded to every worker; each drains and commits within its
  own `RELAY_SHUTDOWN_GRACE_SECONDS`, and one still running `_KILL_MARGIN_SECONDS` after that is
  killed. The exit status is 0 when every worker exited 0, else the first failure's.
- **Crashes.** A worker that exits on its own is restarted after a backoff (`RestartPolicy`);
  one that crashes `max_crashes` times within `window_seconds` is a crash loop: the supervisor
  stops the others and exits 1.
- **Refusals.** A worker exiting 2 (a bad setting, a missing topic, a port in use) would only
  be refused again: the supervisor stops the others and exits 2, restarting nothing.
- **Its own death.** Every worker holds the supervisor's `Lifeline`: a supervisor that ends
  without stopping them (SIGKILL, the OOM killer) leaves no worker delivering unsupervised;
  each stops within seconds on its own (`_lifeline.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from consumer.cli._exits import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from consumer.cli._lifeline import Lifeline

__all__ = ["RestartPolicy", "Supervisor", "parse_workers", "worker_env"]

_log = logging.getLogger("signal_relay.supervisor")

# A worker still running this long after its own shutdown grace is killed.
_KILL_MARGIN_SECONDS = 10.0


def parse_workers(text: str) -> int:
    """`auto` (the machine's cores) or a positive number of worker processes."""
    if text == "auto":
        return os.cpu_count() or 1
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"--workers takes a positive number or 'auto', not {text!r}")
    return int(text)


def worker_env(env: Mapping[str, str], index: int) -> dict[str, str]:
    """Worker `index`'s environment: its own static member id and ops port, the rest shared."""
    mine = dict(env)
    if instance := env.get("KAFKA_GROUP_INSTANCE_ID", "").strip():
        mine["KAFKA_GROUP_INSTANCE_ID"] = f"{instance}-{index}"
    port = int(env.get("RELAY_METRICS_PORT", "0") or "0")
    mine["RELAY_METRICS_PORT"] = str(port + 1 + index if port else 0)
    mine["SIGNAL_RELAY_WORKER"] = str(index)
    return mine


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """When a crashed worker is started again, and when the supervisor gives up.

    Attributes:
        first_delay: Seconds before the first restart; doubled on each crash within the window.
        max_delay: Seconds between restarts at most.
        max_crashes: Crashes of one worker within `window_seconds` that make a crash loop.
        window_seconds: How far back crashes count.
    """

    first_delay: float = 0.5
    max_delay: float = 10.0
    max_crashes: int = 5
    window_seconds: float = 60.0

    def delay(self, recent_crashes: int) -> float:
        """Seconds to wait before restarting a worker with `recent_crashes` in the window."""
        return float(min(self.max_delay, self.first_delay * 2 ** max(0, recent_crashes - 1)))


class Supervisor:
    """Runs `count` workers until a signal, a refusal or a crash loop; `run()` gives the status."""

    def __init__(
        self,
        count: int,
        env: Mapping[str, str],
        *,
        shutdown_grace: float,
        policy: RestartPolicy | None = None,
        command: Sequence[str] = (sys.executable, "-m", "consumer", "run"),
    ) -> None:
        self.count = count
        self._env = dict(env)
        self._stop_after = shutdown_grace + _KILL_MARGIN_SECONDS
        self._policy = policy or RestartPolicy()
        self._command = tuple(command)
        self._stopping = asyncio.Event()
        self._lifeline = Lifeline()
        self._status: int | None = None
        self.processes: dict[int, asyncio.subprocess.Process] = {}

    def request_stop(self, status: int = EXIT_OK) -> None:
        """Stop every worker (SIGTERM); `status` is the exit status unless a worker fails."""
        if self._status is None:
            self._status = status
        if not self._stopping.is_set():
            self._stopping.set()
            for process in self.processes.values():
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)

    def readiness(self) -> tuple[bool, str]:
        """Ready while every worker is running."""
        down = [i for i in range(self.count) if self._running(i) is False]
        return (not down, f"workers not running: {down}" if down else "")

    async def run(self) -> int:
        """Start the workers, keep them running until stopped; the exit status."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, self.request_stop)
        try:
            statuses = await asyncio.gather(*(self._keep(i) for i in range(self.count)))
        finally:
            self._lifeline.close()
        failed = [s for s in statuses if s != EXIT_OK]
        status = self._status if self._status not in (None, EXIT_OK) else None
        final = status if status is not None else (failed[0] if failed else EXIT_OK)
        _log.info("supervisor_stopped", extra={"fields": {"status": final}})
        return final

    def _running(self, index: int) -> bool:
        process = self.processes.get(index)
        return process is not None and process.returncode is None

    async def _keep(self, index: int) -> int:
        """Worker `index`, restarted after crashes; its last exit status."""
        crashes: deque[float] = deque()
        while True:
            status = await self._once(index)
            if self._stopping.is_set():
                return status
            if status == EXIT_USAGE:
                _log.error("worker_refused", extra={"fields": {"worker": index}})
                self.request_stop(EXIT_USAGE)
                return status
            now = time.monotonic()
            crashes.append(now)
            while crashes and crashes[0] < now - self._policy.window_seconds:
                crashes.popleft()
            if len(crashes) >= self._policy.max_crashes:
                _log.error(
                    "worker_crash_loop",
                    extra={"fields": {"worker": index, "crashes": len(crashes)}},
                )
                self.request_stop(EXIT_FAILURE)
                return EXIT_FAILURE
            delay = self._policy.delay(len(crashes))
            _log.warning(
                "worker_crashed",
                extra={"fields": {"worker": index, "status": status, "restart_in": delay}},
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            if self._stopping.is_set():
                return EXIT_FAILURE

    async def _once(self, index: int) -> int:
        process = await asyncio.create_subprocess_exec(
            *self._command,
            env=worker_env(self._env, index) | self._lifeline.env(),
            pass_fds=self._lifeline.pass_fds,
        )
        self.processes[index] = process
        _log.info("worker_started", extra={"fields": {"worker": index, "pid": process.pid}})
        if self._stopping.is_set():  # a signal raced the start
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        waiting = asyncio.ensure_future(process.wait())
        stopping = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not waiting.done():
            try:
                await asyncio.wait_for(asyncio.shield(waiting), self._stop_after)
            except TimeoutError:
                _log.error("worker_kill", extra={"fields": {"worker": index, "pid": process.pid}})
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        status = await waiting
        _log.info("worker_exited", extra={"fields": {"worker": index, "status": status}})
        # Killed by a signal (negative) counts as a failure.
        return status if status >= 0 else EXIT_FAILURE
