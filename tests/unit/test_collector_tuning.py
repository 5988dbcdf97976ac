"""A relay process freezes what start-up left alive and keeps CPython's collection thresholds."""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
import gc
from consumer.service import tune_collector
before = gc.get_threshold()
tune_collector()
print(gc.get_threshold() == before, gc.get_freeze_count() > 0)
"""


def test_tuning_freezes_start_up_and_keeps_the_thresholds() -> None:
    """In a fresh interpreter (the collector is process-wide): frozen, thresholds unchanged."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], check=True, capture_output=True, text=True, timeout=60
    ).stdout.split()
    assert out == ["True", "True"]
