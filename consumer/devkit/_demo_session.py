"""One demo run inside the event loop: topics, the relay, the publisher, the display, the verdict.

The demo creates its topic and DLQ itself (the relay never creates topics), starts a relay in
this loop, publishes the stream at the asked pace while the display follows the receiver's
ledger, then observes the ledger and the DLQ and hands them to the judge.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Sequence
from typing import TextIO

from aiokafka import AIOKafkaProducer

from consumer.adapters._request_rate import rate_limiter
from consumer.config import load_settings
from consumer.devkit._demo_display import ProgressDisplay, say
from consumer.devkit._demo_options import DemoError, DemoOptions
from consumer.devkit._demo_report import Observation, RelayCounters, Verdict, judge, render_summary
from consumer.devkit._demo_stream import DemoStream, StreamRecord, build_stream
from consumer.service._member import Relay
from consumer.tools._topics import ensure_topic, read_topic
from signing.receiver.app import ReceiverApp

__all__ = ["DemoSession"]

_PARTITIONS = 6
_JOIN_TIMEOUT_SECONDS = 60.0
_TICK_SECONDS = 0.1
_STOP_TIMEOUT_SECONDS = 20.0


class DemoSession:
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
        say(self._out, f"topic: {s.topic} ({_PARTITIONS} partitions), DLQ: {s.dlq_topic}")
        relay = Relay(s)
        task = asyncio.create_task(relay.run(), name="relay")
        try:
            await self._joined(relay, task)
            metrics_url = f"http://127.0.0.1:{relay.ops_port}/metrics" if relay.ops_port else None
            say(self._out, f"relay: in the group; metrics at {metrics_url or 'not served'}")
            stream = build_stream(
                self._options.signals,
                rng=self._rng,
                max_size=s.max_body_size,
                max_age_seconds=s.max_signal_age_seconds,
            )
            observation = await self._play(stream, relay, task, metrics_url)
            verdict = judge(stream.expectation, observation)
            say(self._out, render_summary(stream.expectation, observation, verdict))
            if self._options.keep_running:
                if metrics_url is None:
                    say(self._out, "not kept running: RELAY_METRICS_PORT=0 serves no /metrics")
                else:
                    await _serve_until_interrupted(self._out, metrics_url)
            return verdict
        finally:
            await _stop(relay, task)

    async def _joined(self, relay: Relay, task: asyncio.Task[None]) -> None:
        say(self._out, "relay: joining the consumer group ...")
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
        say(
            self._out,
            f"publishing {expected.published} records "
            f"({len(expected.signal_ids)} signals of which {expected.stale} stale, "
            f"{expected.duplicates} duplicate publishes, {expected.invalid} invalid) at "
            + (f"{self._options.rate:g}/s" if self._options.rate else "full speed"),
        )
        started = time.monotonic()
        publisher = asyncio.create_task(self._publish(stream.records), name="publisher")
        display = ProgressDisplay(self._out, started)
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
        bucket = rate_limiter(rate, burst=max(1.0, rate / 20)) if rate > 0 else None
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


async def _serve_until_interrupted(out: TextIO, metrics_url: str) -> None:
    """Keep the relay (and `/metrics`) up until Ctrl-C, which ends the wait, not the demo."""
    say(out, f"serving {metrics_url} until Ctrl-C ...")
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is None or task.uncancel() > 0:
            raise  # cancelled for another reason than the one Ctrl-C
    say(out, "stopping ...")


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
