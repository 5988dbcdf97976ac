"""promtool, Prometheus' rule checker, for the tests of deploy/prometheus and deploy/grafana.

`make promtool` (a prerequisite of `make test`) unpacks it into .tools/ from Debian's
`prometheus` package; a promtool on PATH serves as well. Without one the tests skip, except
under CI=true, where a missing promtool is a failure: the checks must really run there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT_PROMTOOL = ROOT / ".tools" / "promtool"


def promtool() -> str:
    """The promtool to run; skips (fails under CI=true) when there is none."""
    if PROJECT_PROMTOOL.exists():
        return str(PROJECT_PROMTOOL)
    found = shutil.which("promtool")
    if found is not None:
        return found
    message = "promtool is not installed: run `make promtool`"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def run_promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run promtool with `args` in `cwd`; its exit status and output, whatever they are."""
    return subprocess.run(
        [promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
