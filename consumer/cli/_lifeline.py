"""A worker's tie to its supervisor: however the supervisor ends, SIGKILL included, it stops.

The supervisor opens one pipe (`Lifeline`), keeps its write end and never writes to it; every
worker inherits the read end. The kernel closes the write end when the supervisor's process
ends, however it ends, so a worker's blocked read returns end-of-file: its supervisor is gone
(`hold`). On Linux the worker also asks for SIGHUP at its parent's death (PR_SET_PDEATHSIG),
then checks that its parent is still the supervisor: one that died between the fork and the
prctl is caught there, and by the pipe, which the worker holds from the fork on.

Which stop: an orphan's deliveries are unsupervised (a restarted supervisor starts a full set
beside it), so it stops as on SIGTERM, but within `ORPHAN_GRACE_SECONDS` instead of its own
`RELAY_SHUTDOWN_GRACE_SECONDS`: it takes no new records, finishes or cancels what is in flight
within about a second, commits what is final (fewer re-sends than a kill) and leaves the group,
so the partitions move at once. A worker still running `ORPHAN_KILL_SECONDS` after its
supervisor died kills itself (SIGKILL, from a thread that does not need the event loop).
Workers start no processes of their own, so nothing outlives them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping

__all__ = ["ORPHAN_GRACE_SECONDS", "ORPHAN_KILL_SECONDS", "Lifeline", "hold"]

_log = logging.getLogger("signal_relay.supervisor")

ORPHAN_GRACE_SECONDS = 2.0
ORPHAN_KILL_SECONDS = 5.0

_FD = "SIGNAL_RELAY_LIFELINE_FD"
_SUPERVISOR = "SIGNAL_RELAY_SUPERVISOR_PID"
_PR_SET_PDEATHSIG = 1


class Lifeline:
    """The supervisor's end: a pipe whose read end every worker inherits (`pass_fds`, `env`)."""

    def __init__(self) -> None:
        # Both ends are non-inheritable: only the read end is passed on, so no worker holds
        # the write end and keeps another's pipe open.
        self._read, self._write = os.pipe()

    @property
    def pass_fds(self) -> tuple[int]:
        """The descriptor each worker inherits."""
        return (self._read,)

    def env(self) -> dict[str, str]:
        """What tells a worker where its lifeline is and who its supervisor is."""
        return {_FD: str(self._read), _SUPERVISOR: str(os.getpid())}

    def close(self) -> None:
        """Drop both ends (the workers have stopped)."""
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)


def hold(env: Mapping[str, str], stop: Callable[[float], None]) -> bool:
    """In a worker: call `stop(ORPHAN_GRACE_SECONDS)` once its supervisor is gone; False if none.

    Call it from the running event loop; `stop` runs there. Without `SIGNAL_RELAY_LIFELINE_FD`
    (a plain `signal-relay run`) nothing is watched.
    """
    if not (fd_text := env.get(_FD, "")).isdigit():
        return False
    orphan = _Orphan(asyncio.get_running_loop(), stop)
    if sys.platform == "linux":
        with contextlib.suppress(NotImplementedError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, orphan.stopped)
        _ask_for_parent_death_signal(signal.SIGHUP)
    threading.Thread(
        target=_watch, args=(int(fd_text), env.get(_SUPERVISOR, ""), orphan), daemon=True
    ).start()
    return True


class _Orphan:
    """What a worker does once, however it learns its supervisor is gone."""

    def __init__(self, loop: asyncio.AbstractEventLoop, stop: Callable[[float], None]) -> None:
        self._loop = loop
        self._stop = stop
        self._once = threading.Lock()
        self._seen = False

    def stopped(self) -> None:
        """Begin the short stop on the event loop and arm the kill; safe from any thread."""
        with self._once:
            if self._seen:
                return
            self._seen = True
        threading.Thread(target=_kill_after, args=(ORPHAN_KILL_SECONDS,), daemon=True).start()
        with contextlib.suppress(RuntimeError):  # the loop already closed: the worker is ending
            self._loop.call_soon_threadsafe(self._begin)

    def _begin(self) -> None:
        _log.error(
            "supervisor_gone",
            extra={"fields": {"stop_within": ORPHAN_GRACE_SECONDS, "kill_in": ORPHAN_KILL_SECONDS}},
        )
        self._stop(ORPHAN_GRACE_SECONDS)


def _watch(fd: int, supervisor: str, orphan: _Orphan) -> None:
    """Block until the lifeline breaks (end-of-file), unless the supervisor is already gone."""
    # A parent other than the supervisor: it died before the prctl could take effect.
    if not supervisor or str(os.getppid()) == supervisor:
        with contextlib.suppress(OSError):
            while os.read(fd, 1):
                pass
    orphan.stopped()


def _kill_after(seconds: float) -> None:
    time.sleep(seconds)
    os.kill(os.getpid(), signal.SIGKILL)


def _ask_for_parent_death_signal(sig: signal.Signals) -> None:
    """prctl(PR_SET_PDEATHSIG, sig): the kernel signals this process when its parent dies."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
