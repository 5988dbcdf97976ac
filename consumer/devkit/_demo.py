"""`signal-relay demo`: the whole pipeline on one machine, with a live display and a verdict.

It starts (or, with `KAFKA_BOOTSTRAP_SERVERS`, borrows) a broker, the reference receiver with a
little latency and a few injected faults, a topic of six partitions and its DLQ, and a relay in
this process; publishes a realistic stream with some bad records; waits until every record has
its outcome; then checks the receiver's ledger and the DLQ against what the relay's validation
says must happen. Everything it started is stopped on the way out, on Ctrl-C and SIGTERM too.
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
import time
from collections import Counter, deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import TextIO

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from consumer.config import load_settings
from consumer.devkit._demo_report import Observation, RelayCounters, Verdict, judge, render_summary
from consumer.devkit._demo_stream import REJECTED_INSTRUMENT, DemoStream, StreamRecord, build_stream
from consumer.devkit._local_broker import LocalBrokerError, local_broker
from consumer.ops._logs import configure_logging
from consumer.service._member import Relay
from consumer.tools._rate_limit import TokenBucket
from consumer.tools._topics import TopicError, ensure_topic, read_topic
from signing.receiver.app import ReceiverApp, create_app
from signing.receiver.config import ReceiverConfig
from signing.receiver.errors import ReceiverError
from signing.receiver.faults import Faults
from signing.receiver.serve import serve_in_thread

__all__ = ["DemoError", "DemoOptions", "demo_faults", "run_demo"]

_PARTITIONS = 6
_JOIN_TIMEOUT_SECONDS = 60.0
_TICK_SECONDS = 0.1
_LINE_EVERY_SECONDS = 1.0
_STOP_TIMEOUT_SECONDS = 20.0


class DemoError(Exception):
    """The demo could not run to its verdict (the relay stopped, the broker failed, ...)."""


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """How big and how fast the demo is.

    Attributes:
        signals: distinct valid signals to publish (duplicates and bad records come on top).
        rate: records published per second; 0 publishes as fast as the broker takes them.
        timeout: seconds allowed, after the last publish, for every record to reach its outcome.
        keep_running: after the summary, keep the relay serving `/metrics` until Ctrl-C.
        verbose: the relay's JSON logs at INFO instead of warnings only.
        seed: seed of the stream and of the receiver's fault dice (None: random).
    """

    signals: int = 500
    rate: float = 200.0
    timeout: float = 60.0
    keep_running: bool = False
    verbose: bool = False
    seed: int | None = None


def demo_faults(seed: int | None) -> Faults:
    """The receiver's misbehaviour: 5 ms latency, 3% 503, 2% 429 (Retry-After 1), 1% drops."""
    return Faults(
        latency_ms=5.0,
        error_rate=0.03,
        throttle_rate=0.02,
        retry_after_seconds=1,
        drop_rate=0.01,
        status_by_instrument={REJECTED_INSTRUMENT: 422},
        seed=seed,
    )


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
            _say(out, "starting the broker ...")
            with local_broker() as broker:
                _say(out, f"broker: {broker.kind} at {broker.bootstrap_servers}")
                faults = demo_faults(options.seed)
                app = create_app(ReceiverConfig(secrets=(secret,), faults=faults))
                with serve_in_thread(app) as url:
                    _say(out, f"receiver: {url} (faults: {_describe(faults)})")
                    env = _relay_env(broker.bootstrap_servers, url, secret, environ, rng)
                    return asyncio.run(_Demo(options, env, app, rng, out).run())
        except (KafkaError, TopicError, LocalBrokerError, ReceiverError) as exc:
            raise DemoError(str(exc)) from exc


class _Demo:
    """One demo run inside the event loop: topics, relay, publisher, display, verdict."""

    def __init__(
        self,
        options: DemoOptions,
        env: dict[str, str],
        app: ReceiverApp,
        rng: random.Random,
        out: TextIO,
    ) -> None:
        self._options = options
        self._settings = load_settings(env)
        self._app = app
        self._rng = rng
        self._out = out
        self._published = 0

    async def run(self) -> Verdict:
        s = self._settings
        await ensure_topic(s.bootstrap_servers, s.topic, _PARTITIONS)
        await ensure_topic(s.bootstrap_servers, s.dlq_topic, 1)
        _say(self._out, f"topic: {s.topic} ({_PARTITIONS} partitions), DLQ: {s.dlq_topic}")
        relay = Relay(s)
        task = asyncio.create_task(relay.run(), name="relay")
        try:
            await self._joined(relay, task)
            metrics_url = f"http://127.0.0.1:{relay.ops_port}/metrics" if relay.ops_port else None
            _say(self._out, f"relay: in the group; metrics at {metrics_url or 'not served'}")
            stream = build_stream(self._options.signals, rng=self._rng, max_size=s.max_body_size)
            observation = await self._play(stream, relay, task, metrics_url)
            verdict = judge(stream.expectation, observation)
            _say(self._out, render_summary(stream.expectation, observation, verdict))
            if self._options.keep_running:
                if metrics_url is None:
                    _say(self._out, "not kept running: RELAY_METRICS_PORT=0 serves no /metrics")
                else:
                    await _serve_until_interrupted(self._out, metrics_url)
            return verdict
        finally:
            await _stop(relay, task)

    async def _joined(self, relay: Relay, task: asyncio.Task[None]) -> None:
        _say(self._out, "relay: joining the consumer group ...")
        joined = asyncio.create_task(relay.joined.wait())
        await asyncio.wait(
            {task, joined}, timeout=_JOIN_TIMEOUT_SECONDS, return_when=asyncio.FIRST_COMPLETED
        )
        joined.cancel()
        _raise_if_stopped(task)
        if not relay.joined.is_set():
            raise DemoError(f"the relay did not join its group within {_JOIN_TIMEOUT_SECONDS:g}s")

    async def _play(
        self, stream: DemoStream, relay: Relay, task: asyncio.Task[None], metrics_url: str | None
    ) -> Observation:
        expected = stream.expectation
        _say(
            self._out,
            f"publishing {expected.published} records "
            f"({len(expected.signal_ids)} signals, {expected.duplicates} duplicate publishes, "
            f"{expected.invalid} invalid) at "
            + (f"{self._options.rate:g}/s" if self._options.rate else "full speed"),
        )
        started = time.monotonic()
        publisher = asyncio.create_task(self._publish(stream.records), name="publisher")
        display = _Display(self._out, started)
        try:
            deadline: float | None = None
            while not self._settled(stream, relay, publisher):
                _raise_if_stopped(task)
                if publisher.done():
                    publisher.result()
                    deadline = deadline or time.monotonic() + self._options.timeout
                    if time.monotonic() > deadline:
                        break
                display.show(self._published, expected.published, self._app, relay)
                await asyncio.sleep(_TICK_SECONDS)
            display.show(self._published, expected.published, self._app, relay, final=True)
        finally:
            publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await publisher
        return await self._observe(stream, relay, time.monotonic() - started, metrics_url)

    def _settled(self, stream: DemoStream, relay: Relay, publisher: asyncio.Task[None]) -> bool:
        expected = stream.expectation
        if not publisher.done() or publisher.exception() is not None:
            return False
        ledger = self._app.ledger
        if ledger.accepted_count < len(expected.deliverable):
            return False
        counters = RelayCounters.read(relay.metrics.registry)
        if counters.dead_lettered_total < expected.dead_letter_total:
            return False
        return all(ledger.get(signal_id) is not None for signal_id in expected.deliverable)

    async def _publish(self, records: Sequence[StreamRecord]) -> None:
        rate = self._options.rate
        bucket = TokenBucket(rate, burst=max(1.0, rate / 20)) if rate > 0 else None
        producer = AIOKafkaProducer(
            bootstrap_servers=self._settings.bootstrap_servers, acks="all", linger_ms=5
        )
        await producer.start()
        try:
            pending = []
            for record in records:
                if bucket is not None:
                    await bucket.acquire()
                future = await producer.send(self._settings.topic, record.value, key=record.key)
                future.add_done_callback(self._acked)
                pending.append(future)
            await asyncio.gather(*pending)
        finally:
            await producer.stop()

    def _acked(self, future: asyncio.Future[object]) -> None:
        if not future.cancelled() and future.exception() is None:
            self._published += 1

    async def _observe(
        self, stream: DemoStream, relay: Relay, elapsed: float, metrics_url: str | None
    ) -> Observation:
        s = self._settings
        dead = Counter(
            dict(record.headers).get("dlq.reason", b"?").decode()
            for record in await read_topic(s.bootstrap_servers, s.dlq_topic)
            if dict(record.headers).get("dlq.source.topic") == s.topic.encode()
        )
        ledger = self._app.ledger
        accepted = frozenset(entry.signal_id for entry in ledger.accepted)
        return Observation(
            delivered=accepted & stream.expectation.deliverable,
            accepted=accepted,
            replays=sum(ledger.deliveries(signal_id) - 1 for signal_id in accepted),
            dead_letters=dict(dead),
            relay=RelayCounters.read(relay.metrics.registry),
            elapsed_seconds=elapsed,
            metrics_url=metrics_url,
        )


class _Display:
    """The live progress: one updating line on a terminal, a line per second otherwise."""

    def __init__(self, out: TextIO, started: float) -> None:
        self._out = out
        self._tty = out.isatty()
        self._started = started
        self._last_line = started
        self._window: deque[tuple[float, int]] = deque([(started, 0)])

    def show(
        self, published: int, total: int, app: ReceiverApp, relay: Relay, *, final: bool = False
    ) -> None:
        """Draw the progress now if it is due (always when `final`)."""
        now = time.monotonic()
        if not (final or self._tty or now - self._last_line >= _LINE_EVERY_SECONDS):
            return
        self._last_line = now
        delivered = app.ledger.accepted_count
        self._window.append((now, delivered))
        while len(self._window) > 2 and now - self._window[1][0] >= _LINE_EVERY_SECONDS:
            self._window.popleft()
        since, before = (self._started, 0) if final else self._window[0]
        rate = (delivered - before) / max(now - since, 1e-6)
        counters = RelayCounters.read(relay.metrics.registry)
        line = (
            f"[{now - self._started:6.1f}s] published {published}/{total}  "
            f"delivered {delivered}  retried {counters.retries}  "
            f"dead-lettered {counters.dead_lettered_total}  "
            f"{rate:6.1f}/s{' average' if final else ''}"
        )
        if self._tty:
            self._out.write("\r\x1b[K" + line + ("\n" if final else ""))
        else:
            self._out.write(line + "\n")
        self._out.flush()


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
    }


async def _serve_until_interrupted(out: TextIO, metrics_url: str) -> None:
    """Keep the relay (and `/metrics`) up until Ctrl-C, which ends the wait, not the demo."""
    _say(out, f"serving {metrics_url} until Ctrl-C ...")
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is None or task.uncancel() > 0:
            raise  # cancelled for another reason than the one Ctrl-C
    _say(out, "stopping ...")


async def _stop(relay: Relay, task: asyncio.Task[None]) -> None:
    """Stop the relay gracefully (cancel it if it overstays); raise if it had crashed."""
    relay.request_stop()
    done, _ = await asyncio.wait({task}, timeout=_STOP_TIMEOUT_SECONDS)
    if not done:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return
    error = None if task.cancelled() else task.exception()
    if error is not None:
        raise DemoError(f"the relay crashed: {type(error).__name__}: {error}") from error


def _raise_if_stopped(task: asyncio.Task[None]) -> None:
    """Raise `DemoError` if the relay's task has ended: nothing asked it to yet."""
    if not task.done():
        return
    error = None if task.cancelled() else task.exception()
    raise DemoError(
        f"the relay stopped unexpectedly: {type(error).__name__}: {error}"
        if error is not None
        else "the relay stopped unexpectedly"
    ) from error


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


def _say(out: TextIO, text: str) -> None:
    out.write(text + "\n")
    out.flush()
