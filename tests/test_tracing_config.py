"""`RELAY_TRACING`: off by default; on without the `tracing` extra is one line and exit 2."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from relay_harness import relay_env

from consumer.config import ConfigError, load_settings

# Runs `signal-relay run` in an interpreter where OpenTelemetry cannot be imported.
_WITHOUT_OPENTELEMETRY = (
    "import sys; sys.modules['opentelemetry'] = None; "
    "from consumer.cli import main; sys.exit(main(['run']))"
)


def _env(**overrides: str) -> dict[str, str]:
    return relay_env("127.0.0.1:1", "signals", "http://127.0.0.1:1", **overrides)


def test_tracing_is_off_by_default() -> None:
    """Without `RELAY_TRACING` the relay traces nothing."""
    assert load_settings(_env()).tracing == "off"


@pytest.mark.parametrize("mode", ["console", "otlp"])
def test_tracing_without_the_extra_is_one_line_naming_it(mode: str) -> None:
    """`RELAY_TRACING=console|otlp` without OpenTelemetry installed: one line, exit 2."""
    env = {"PATH": os.environ.get("PATH", ""), **_env(RELAY_TRACING=mode)}
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_OPENTELEMETRY],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        "signal-relay: RELAY_TRACING: needs the 'tracing' extra: "
        "pip install 'signal-relay[tracing]'"
    ]


def test_an_unknown_tracing_mode_is_refused() -> None:
    """A mode other than off, console or otlp is a configuration error naming the variable."""
    with pytest.raises(ConfigError) as refused:
        load_settings(_env(RELAY_TRACING="jaeger"))
    assert refused.value.variable == "RELAY_TRACING"
