"""How the cyclic garbage collector runs in a relay process: over what is new only.

What start-up left alive (modules, settings, the clients' classes) is collected once and frozen
out of every later collection, so that the older generations' collections no longer walk it.
CPython's thresholds are kept: a young generation of 10,000 allocations measured cheaper per
signal in `bench/cpu_per_signal.py`, but an earlier run of `make bench` saw a larger young
generation let the relay's RSS grow past 600 MB while it drained a 200,000-record backlog, and
bounded memory comes before CPU.
"""

from __future__ import annotations

import gc

__all__ = ["tune_collector"]


def tune_collector() -> None:
    """Collect and freeze what is alive now; later collections skip it. Once per process."""
    gc.collect()
    gc.freeze()
