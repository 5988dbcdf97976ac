"""Helpers for the relay's integration tests: settings, a running relay, publishing signals."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer

from consumer.config import Settings, load_settings
from consumer.service import Relay
from consumer.tools import ensure_topic

SECRET = "test-secret-0123456789abcdef"
PRODUCER_ID = "relay-tests"


def relay_env(
    bootstrap: str, topic: str, server_url: str, **overrides: str | int | float
) -> dict[str, str]:
    """A complete relay environment for tests: fast backoff, fast commits, no ops port."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_TOPIC": topic,
        "KAFKA_GROUP_ID": f"{topic}-relay",
        "HMAC_PRODUCER_SECRET": SECRET,
        "PRODUCER_ID": PRODUCER_ID,
        "OUTBOUND_SERVER_URL": server_url,
        "RELAY_METRICS_PORT": "0",
        "KAFKA_SESSION_TIMEOUT_MS": "6000",
        "KAFKA_HEARTBEAT_INTERVAL_MS": "1000",
        "RELAY_RETRY_BASE_SECONDS": "0.01",
        "RELAY_RETRY_MAX_SECONDS": "0.05",
        "RELAY_RETRY_AFTER_CAP_SECONDS": "0.2",
        "RELAY_SYSTEMIC_PROBE_SECONDS": "0.1",
        "RELAY_COMMIT_INTERVAL_SECONDS": "0.05",
        "RELAY_REVOKE_GRACE_SECONDS": "5",
        "RELAY_SHUTDOWN_GRACE_SECONDS": "10",
    }
    env.update({k: str(v) for k, v in overrides.items()})
    return env


def relay_settings(
    bootstrap: str, topic: str, server_url: str, **overrides: str | int | float
) -> Settings:
    """Validated settings built from `relay_env`."""
    return load_settings(relay_env(bootstrap, topic, server_url, **overrides))


@contextlib.asynccontextmanager
async def running_relay(settings: Settings, *, join_timeout: float = 30) -> AsyncIterator[Relay]:
    """Run a relay in this event loop until the block ends; yields once it owns partitions.

    A DLQ named in the settings is created first (the relay refuses to start without it);
    the source topic is the test's own, from `new_topic`.
    """
    if settings.enabled:
        await ensure_topic(settings.bootstrap_servers, settings.dlq_topic)
    relay = Relay(settings)
    task = asyncio.create_task(relay.run())
    joined = asyncio.create_task(relay.joined.wait())
    await asyncio.wait({task, joined}, timeout=join_timeout, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        joined.cancel()
        task.result()
        raise AssertionError("relay stopped before joining the group")
    if not relay.joined.is_set():
        joined.cancel()
        relay.request_stop()
        await task
        raise AssertionError(f"relay did not join the group within {join_timeout}s")
    try:
        yield relay
    finally:
        relay.request_stop()
        await asyncio.wait_for(task, 60)


def signal(instrument: str, seq: int, **fields: object) -> dict[str, object]:
    """A valid buy signal; `seq` makes it unique and shows up in `note` for order checks."""
    body: dict[str, object] = {
        "instrument": instrument,
        "side": "buy",
        "entry_price": "100.25",
        "stop_loss": "99.5",
        "take_profit": "102",
        "confidence": "0.8",
        "note": f"seq={seq}",
    }
    body.update(fields)
    return body


@dataclass(frozen=True, slots=True)
class Published:
    """Where a published record landed."""

    key: bytes | None
    value: bytes
    partition: int
    offset: int


async def publish(
    bootstrap: str,
    topic: str,
    records: Iterable[tuple[bytes | None, bytes]],
    headers: Sequence[tuple[str, bytes]] = (),
) -> list[Published]:
    """Produce raw (key, value) records in order and wait for every acknowledgement."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [
            (key, value, await producer.send(topic, value=value, key=key, headers=list(headers)))
            for key, value in records
        ]
        out = []
        for key, value, future in futures:
            meta = await future
            out.append(Published(key, value, meta.partition, meta.offset))
        return out
    finally:
        await producer.stop()


def encode(body: Mapping[str, object]) -> bytes:
    """JSON bytes of a record value."""
    return orjson.dumps(body)


def keyed_signals(instruments: Sequence[str], per_instrument: int) -> list[tuple[bytes, bytes]]:
    """Interleaved signals, keyed by instrument, with a per-instrument sequence in `note`."""
    return [
        (inst.encode(), encode(signal(inst, seq)))
        for seq in range(per_instrument)
        for inst in instruments
    ]


def relay_command() -> list[str]:
    """The command line that starts a relay process."""
    return [sys.executable, "-m", "consumer", "run"]


def subprocess_env(env: Mapping[str, str]) -> dict[str, str]:
    """The current environment plus `env` (PATH and the venv are kept)."""
    return {**os.environ, **env}


def expected_signal_id(value: bytes) -> str:
    """The signal_id the relay sends for a valid record value (computed independently of it)."""
    from schemas.record import parse_candidate
    from signing.canonical import canonical_body

    return canonical_body(parse_candidate(value)).signal_id


def free_port() -> int:
    """A TCP port free on loopback right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def end_offsets(published: Iterable[Published]) -> dict[int, int]:
    """Partition -> one past the last published offset."""
    ends: dict[int, int] = {}
    for record in published:
        ends[record.partition] = max(ends.get(record.partition, 0), record.offset + 1)
    return ends


@contextlib.contextmanager
def relay_process(env: Mapping[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A `signal-relay run` child process, logging to `log_path`; killed if still running."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            relay_command(), env=subprocess_env(env), stdout=log, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
