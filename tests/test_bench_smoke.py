"""`make bench` runs end to end at a tiny scale (`python -m bench --quick`): it does not rot."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
_FIGURES = (
    "pipeline: prepare + sign",
    "relay throughput at 20 ms",
    "naive loop throughput at 20 ms",
    "relay / naive throughput",
    "CPU per signal: relay / plain aiohttp POST",
    "latency p50 / p99: relay",
    "latency p50 / p99: naive loop",
    "latency: relay p99",
    "SIGKILL mid-backlog",
    "SIGTERM, one key stuck",
)


def test_quick_bench_writes_every_figure_and_keeps_the_history(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Every figure is measured and written as a row; no signal is lost; History is kept."""
    results = tmp_path / "RESULTS.md"
    results.write_text("# old\n\n## Results\n\n| stale |\n\n## History\n\nEarlier runs: x.\n")
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(results)],
        cwd=_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    text = results.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 1 + len(_FIGURES)
    for figure, row in zip(_FIGURES, rows[1:], strict=True):
        what, value = row[2:].split(" | ")[:2]
        assert what.startswith(figure), row
        assert re.search(r"\d", value), row
        assert f"{what}: {value}" in done.stdout.splitlines()
    assert text.count(" 0 lost") == 2
    assert "| stale |" not in text
    assert text.endswith("## History\n\nEarlier runs: x.\n")
