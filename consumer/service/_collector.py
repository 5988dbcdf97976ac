"""How the cyclic garbage collector runs in a relay process: rarely, over what is new.

A record's trip allocates a few hundred container objects (the HTTP client's request and
response, the record flow's frames and results), nearly all freed by reference counting. With
CPython's default thresholds (a young collection every 700 net allocations) the collector
still ran every few records and, with thousands of buffered records alive, every few hundred
records through the older generations: a quarter of the relay's CPU per signal in
`make bench`'s drain (bench/cpu_per_signal.py). So, once per process, before the event loop
starts: what start-up left alive (modules, settings, the clients' classes) is collected once
and frozen out of every later collection, and young collections wait for 10,000 net
allocations. Cyclic garbage still goes, a little later; memory stays bounded by the same
limits (RELAY_PARTITION_BUFFER, the fetch sizes).
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_COLLECTION_THRESHOLD", "tune_collector"]

YOUNG_COLLECTION_THRESHOLD = 10_000
"""Net container allocations between two young-generation collections (CPython's: 700)."""


def tune_collector() -> None:
    """Collect and freeze what is alive now; make young collections rarer. Once per process."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, older, oldest)
