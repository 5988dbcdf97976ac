"""A relay process collects young garbage every 10,000 allocations, with start-up frozen."""

from __future__ import annotations

import subprocess
import sys

from consumer.service import YOUNG_COLLECTION_THRESHOLD

_PROBE = """
import gc
from consumer.service import tune_collector
before = gc.get_threshold()
tune_collector()
after = gc.get_threshold()
print(after[0], after[1:] == before[1:], gc.get_freeze_count() > 0)
"""


def test_tuning_freezes_start_up_and_spaces_young_collections() -> None:
    """In a fresh interpreter (the collector is process-wide): threshold 0 raised, rest kept."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], check=True, capture_output=True, text=True, timeout=60
    ).stdout.split()
    assert out == [str(YOUNG_COLLECTION_THRESHOLD), "True", "True"]
