"""`signal-relay receiver --capture DIR`: it says where it listens, and what it captured verifies.

The receiver runs as the operator runs it (a subprocess of the installed command line); a
request posted by `HmacClient` is written to DIR, and `signal-relay verify @DIR/NNNNNN.args`
judges the capture: valid as sent, invalid once its body is changed.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from signing import HmacClient, OutboundConfig

SEED_SECRET = "capture-secret-0123456789abcdef"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"capture-key-0123456789abcdef-32b").decode()
SIGNAL = {"instrument": "EURUSD", "side": "buy", "entry_price": "1.085", "confidence": "0.7"}
_CLI = [sys.executable, "-m", "consumer"]


class Captured(NamedTuple):
    """A receiver writing what it receives: its profile, capture directory, secret file, URL."""

    profile: str
    directory: Path
    secret: Path
    url: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _listening(process: subprocess.Popen[str], within: float) -> dict[str, object]:
    """The `receiver_listening` log line, read from the receiver's stderr."""
    found: list[dict[str, object]] = []

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            if "receiver_listening" in line:
                found.append(json.loads(line))
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(within)
    assert found, "the receiver did not log receiver_listening"
    return found[0]


@pytest.fixture(params=["seed", "standard-webhooks"])
def captured(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Captured]:
    """A receiver started with --capture, for each signing profile."""
    profile: str = request.param
    secret = tmp_path / "secret"
    secret.write_text((WEBHOOK_SECRET if profile != "seed" else SEED_SECRET) + "\n")
    directory = tmp_path / "captured"
    port = _free_port()
    options = ["--port", str(port), "--secret-file", str(secret), "--capture", str(directory)]
    process = subprocess.Popen(
        [*_CLI, "receiver", *options],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = _listening(process, 60)
        assert line["url"] == f"http://127.0.0.1:{port}/api/v1/signals/ingest"
        assert line["capture_dir"] == str(directory)
        yield Captured(profile, directory, secret, f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(30)
        if process.stderr is not None:
            process.stderr.close()


def _verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_CLI, "verify", *args], capture_output=True, text=True, timeout=60, check=False
    )


async def test_a_captured_request_verifies(captured: Captured) -> None:
    """A posted signal is captured; verify says valid, and invalid for a changed body."""
    profile, directory, secret, url = captured
    config = OutboundConfig(
        producer_id="desk-1",
        producer_secret=secret.read_text().strip(),
        server_base_url=url,
        signing_profile=profile,
    )
    async with HmacClient(config) as client:
        response = await client.post_signal(SIGNAL)
    args_file = directory / "000001.args"
    arguments = args_file.read_text().splitlines()
    assert f"--idempotency-key={response.signal_id}" in arguments
    assert ("--profile=standard-webhooks" in arguments) is (profile == "standard-webhooks")

    valid = _verify(f"@{args_file}", "--secret-file", str(secret))
    assert (valid.returncode, valid.stdout.strip()) == (0, "valid"), valid.stderr

    body = directory / "000001.body"
    body.write_bytes(body.read_bytes().replace(b"EURUSD", b"GBPUSD"))
    changed = _verify(f"@{args_file}", "--secret-file", str(secret), "--no-freshness")
    assert changed.returncode == 1
    assert changed.stdout.startswith("invalid: signature_mismatch")
