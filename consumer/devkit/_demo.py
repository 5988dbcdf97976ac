"""`signal-relay demo`: the whole pipeline on one machine, with a live display and a verdict.

It starts (or, with `KAFKA_BOOTSTRAP_SERVERS`, borrows) a broker, the reference receiver with a
little latency and a few injected faults, a topic of six partitions and its DLQ, and a relay in
this process; publishes a realistic stream with some bad records; waits until every record has
its outcome; then checks the receiver's ledger and the DLQ against what the relay's validation
says must happen. Everything it started is stopped on the way out, on Ctrl-C and SIGTERM too.

This module sets the stage (broker, receiver, the relay's environment, signals); the run inside
the event loop is `_demo_session`, its progress line `_demo_display`, the stream `_demo_stream`
and the verdict `_demo_report`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import signal
import socket
import sys
import threading
from collections.abc import Iterator, Mapping
from types import FrameType
from typing import TextIO

from aiokafka.errors import KafkaError

from consumer.devkit._demo_display import say
from consumer.devkit._demo_options import DemoError, DemoOptions, demo_faults
from consumer.devkit._demo_report import Verdict
from consumer.devkit._demo_session import DemoSession
from consumer.devkit._demo_stream import DEMO_MAX_SIGNAL_AGE_SECONDS
from consumer.devkit._local_broker import LocalBrokerError, local_broker
from consumer.ops._logs import configure_logging
from consumer.tools._topics import TopicError
from signing.receiver.app import create_app
from signing.receiver.config import ReceiverConfig
from signing.receiver.errors import ReceiverError
from signing.receiver.faults import Faults
from signing.receiver.serve import serve_in_thread

__all__ = ["run_demo"]


def run_demo(
    options: DemoOptions, *, out: TextIO = sys.stdout, environ: Mapping[str, str] = os.environ
) -> Verdict:
    """Run the demo to its verdict; raise `DemoError` if it could not get that far.

    `KeyboardInterrupt` (Ctrl-C, or SIGTERM turned into it) propagates after everything this
    started has stopped.
    """
    configure_logging("INFO" if options.verbose else "WARNING", "json")
    if not options.verbose:
        # The expected dead letters are warnings; the summary reports them instead.
        logging.getLogger("signal_relay.record").setLevel(logging.ERROR)
    rng = random.Random(options.seed)  # noqa: S311 - demo data, not cryptography
    secret = secrets.token_urlsafe(32)
    with _sigterm_as_interrupt():
        try:
            say(out, "starting the broker ...")
            with local_broker(say=lambda line: say(out, line)) as broker:
                say(out, f"broker: {broker.kind} at {broker.bootstrap_servers}")
                faults = demo_faults(options.seed)
                app = create_app(ReceiverConfig(secrets=(secret,), faults=faults))
                with serve_in_thread(app) as url:
                    say(out, f"receiver: {url} (faults: {_describe(faults)})")
                    env = _relay_env(broker.bootstrap_servers, url, secret, environ, rng)
                    return asyncio.run(DemoSession(options, env, app, rng, out).run())
        except (KafkaError, TopicError, LocalBrokerError, ReceiverError) as exc:
            raise DemoError(str(exc)) from exc


def _relay_env(
    bootstrap: str, url: str, secret: str, environ: Mapping[str, str], rng: random.Random
) -> dict[str, str]:
    """The relay's configuration: a fresh topic and group, fast commits, short retry caps."""
    suffix = f"{rng.getrandbits(32):08x}{secrets.token_hex(2)}"
    topic = f"signals.demo-{suffix}"
    return {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_TOPIC": topic,
        "KAFKA_GROUP_ID": f"signal-relay-demo-{suffix}",
        "KAFKA_SESSION_TIMEOUT_MS": "6000",
        "KAFKA_HEARTBEAT_INTERVAL_MS": "1000",
        "HMAC_PRODUCER_SECRET": secret,
        "PRODUCER_ID": "signal-relay-demo",
        "OUTBOUND_SERVER_URL": url,
        "RELAY_METRICS_HOST": "127.0.0.1",
        "RELAY_METRICS_PORT": environ.get("RELAY_METRICS_PORT") or str(_free_port()),
        "RELAY_COMMIT_INTERVAL_SECONDS": "0.1",
        "RELAY_RETRY_BASE_SECONDS": "0.05",
        "RELAY_RETRY_MAX_SECONDS": "0.5",
        "RELAY_RETRY_AFTER_CAP_SECONDS": "1",
        "RELAY_SYSTEMIC_PROBE_SECONDS": "0.5",
        "RELAY_REVOKE_GRACE_SECONDS": "5",
        "RELAY_SHUTDOWN_GRACE_SECONDS": "10",
        "RELAY_MAX_SIGNAL_AGE_SECONDS": str(DEMO_MAX_SIGNAL_AGE_SECONDS),
    }


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C, so a terminated demo still stops the broker it started."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        signal.raise_signal(signal.SIGINT)

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _describe(faults: Faults) -> str:
    rejected = ", ".join(f"{k} -> {v}" for k, v in faults.status_by_instrument.items())
    return (
        f"{faults.latency_ms:g} ms latency, {faults.error_rate:.0%} 503, "
        f"{faults.throttle_rate:.0%} 429 (Retry-After {faults.retry_after_seconds}), "
        f"{faults.drop_rate:.0%} dropped, {rejected}"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
