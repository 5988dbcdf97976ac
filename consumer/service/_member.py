"""The relay process: one consumer-group member wiring Kafka, the lanes, commits and shutdown.

Lifecycle: start the clients, join the group, then fetch -> lanes -> final outcomes -> commits
until asked to stop. On revocation the revoked lanes close (in-flight records finish within
`RELAY_REVOKE_GRACE_SECONDS`), their final offsets are committed, then they are released. On
stop: pause fetching, drain within `RELAY_SHUTDOWN_GRACE_SECONDS`, commit, leave the group.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from consumer.adapters._broker_probe import probe_broker
from consumer.adapters._dead_letter import (
    DLQ_MAX_MESSAGE_BYTES,
    DeadLetterWriter,
    build_dead_letter_producer,
)
from consumer.adapters._fetch_guard import FetchGuard
from consumer.adapters._http import HttpSender, build_http_client
from consumer.adapters._kafka_options import kafka_client_options
from consumer.config import Settings
from consumer.ops._alerts import Alerts
from consumer.ops._endpoint import OpsServer
from consumer.ops._metrics import RelayMetrics
from consumer.service._commits import CommitLoop, ContiguousTracker
from consumer.service._lanes import PartitionLane
from consumer.service._record_flow import RecordFlow
from consumer.service._retry import RetryPolicy
from consumer.service._systemic import SystemicGate

__all__ = [
    "Relay",
    "RelayCrashedError",
    "RelayError",
    "RelayStartError",
    "run_until_signalled",
]

_log = logging.getLogger("signal_relay.relay")
_FETCH_TIMEOUT_MS = 100
_MAX_BATCH = 2000
_WATCH_INTERVAL = 1.0
_BROKER_CHECK_EVERY = 5
# The revoke commit's deadline; config keeps revoke grace + this under the rebalance timeout.
_REVOKE_COMMIT_SECONDS = 5.0
# Of the shutdown grace, the part kept for the final commit (at least 1 s, at most 5 s).
_DRAIN_COMMIT_SHARE = 0.25
# Leaving the group and flushing the DLQ producer, each, once the grace is spent.
_CLOSE_CLIENT_SECONDS = 2.0


class RelayError(RuntimeError):
    """The relay could not run; `str()` is one line for the operator."""


class RelayStartError(RelayError):
    """Start-up failed (e.g. Kafka unreachable); nothing was consumed."""


class RelayCrashedError(RelayError):
    """A bug or an unrecoverable client error stopped the relay; uncommitted records replay."""


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(
        self,
        revoked: Callable[[list[TopicPartition]], Awaitable[None]],
        assigned: Callable[[list[TopicPartition]], None],
    ) -> None:
        self._revoked = revoked
        self._assigned = assigned

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._revoked(list(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self._assigned(list(assigned))


class Relay:
    """One member of the relay's consumer group."""

    def __init__(
        self,
        settings: Settings,
        *,
        metrics: RelayMetrics | None = None,
        alerts: Alerts | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or RelayMetrics()
        self.alerts = alerts or Alerts.from_settings(settings)
        self.gate = SystemicGate(
            settings.retry.systemic_probe_seconds, on_change=self._systemic_changed
        )
        self.joined = asyncio.Event()
        self.ops_port: int | None = None
        self._stop = asyncio.Event()
        self._lanes: dict[TopicPartition, PartitionLane] = {}
        self._paused: set[TopicPartition] = set()
        self._fatal: BaseException | None = None
        self._broker_ok = True
        self._consumer: AIOKafkaConsumer | None = None
        self._commits: CommitLoop | None = None
        self._flow: RecordFlow | None = None

    # -- public surface -------------------------------------------------------------------

    def request_stop(self) -> None:
        """Begin a graceful shutdown (SIGTERM/SIGINT)."""
        self._stop.set()

    def readiness(self) -> tuple[bool, str]:
        """Ready = in the group, broker reachable, deliveries not paused by a systemic failure."""
        if not self.joined.is_set():
            return False, "not in the consumer group"
        if not self._broker_ok:
            return False, "broker unreachable"
        if not self.gate.is_open:
            return False, f"deliveries paused: {self.gate.reason}"
        return True, ""

    def trackers(self) -> dict[TopicPartition, ContiguousTracker]:
        """The commit trackers of the partitions this member owns."""
        return {tp: lane.tracker for tp, lane in self._lanes.items()}

    async def run(self) -> None:
        """Run until `request_stop()`; raise `RelayCrashedError` if a worker crashed."""
        s = self.settings
        kafka = kafka_client_options(s.kafka_security)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=s.bootstrap_servers,
            group_id=s.group_id,
            enable_auto_commit=False,
            auto_offset_reset=s.auto_offset_reset,
            session_timeout_ms=s.session_timeout_ms,
            heartbeat_interval_ms=s.heartbeat_interval_ms,
            rebalance_timeout_ms=s.rebalance_timeout_ms,
            client_id=f"signal-relay-{s.producer_id}",
            **kafka,
        )
        producer = (
            build_dead_letter_producer(
                s.bootstrap_servers, kafka, max_message_bytes=DLQ_MAX_MESSAGE_BYTES
            )
            if s.enabled
            else None
        )
        client = build_http_client(s)
        ops = OpsServer(render_metrics=self.metrics.render, readiness=self.readiness)
        policy = RetryPolicy(s.retry)
        self._consumer = consumer
        self._flow = RecordFlow(
            sender=HttpSender(s, client, self.metrics),
            dead_letters=DeadLetterWriter(
                producer,
                s.dlq_topic,
                policy,
                max_message_bytes=DLQ_MAX_MESSAGE_BYTES,
                on_stalled=self._dead_letters_stalled,
            )
            if producer
            else None,
            gate=self.gate,
            policy=policy,
            metrics=self.metrics,
            max_body_size=s.max_body_size,
            alerts=self.alerts,
        )
        self._commits = CommitLoop(
            self.trackers,
            consumer.commit,
            s.commit_interval_seconds,
            on_committed=self._committed,
            on_failed=self.metrics.commit_failures.inc,
            timeout=max(5.0, 10 * s.commit_interval_seconds),
        )
        background: list[asyncio.Task[None]] = []
        try:
            self.alerts.start()
            if s.metrics_port:
                self.ops_port = await ops.start(s.metrics_host, s.metrics_port)
            consumer.subscribe([s.topic], listener=_Rebalance(self._release, self._adopt))
            try:
                if producer is not None:
                    await producer.start()
                await consumer.start()
            except KafkaError as exc:
                raise RelayStartError(
                    f"cannot join group {s.group_id!r} at {s.bootstrap_servers}: {exc}"
                ) from exc
            _log.info(
                "relay_started",
                extra={"fields": {"topic": s.topic, "group": s.group_id, "dry_run": not s.enabled}},
            )
            if s.enabled:
                background.append(asyncio.create_task(self._commits.run(self._stop)))
            background.append(asyncio.create_task(self._watch(consumer)))
            await self._consume(consumer)
            await self._drain(consumer)
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await _bounded("consumer_stop", consumer.stop())
            if producer is not None:
                await _bounded("producer_stop", producer.stop())
            await _bounded("http_close", client.aclose())
            await self.alerts.close()
            await ops.stop()
            _log.info("relay_stopped", extra={"fields": {"crashed": self._fatal is not None}})
        if self._fatal is not None:
            _log.critical("relay_crashed", extra={"fields": {"error": repr(self._fatal)[:500]}})
            raise RelayCrashedError(str(self._fatal)) from self._fatal

    # -- the fetch loop -------------------------------------------------------------------

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        bound = self.settings.partition_buffer
        # Records aiokafka cannot decode come back as `UndecodableRecord`s (dead-lettered).
        guard = FetchGuard(consumer, self._stop)
        while not self._stop.is_set():
            batch = await guard.getmany(
                self._lanes, timeout_ms=_FETCH_TIMEOUT_MS, max_records=_MAX_BATCH
            )
            for tp, records in batch.items():
                lane = self._lanes.get(tp)
                if lane is None or lane.closing.is_set():
                    # Fetched across a rebalance: the next owner starts from the commit.
                    continue
                room = max(0, bound - lane.buffered)
                taken = records[:room]
                for record in taken:
                    lane.submit(record)
                if taken:
                    guard.note_submitted(tp, lane, taken[-1].offset + 1)
                self.metrics.consumed.inc(len(taken))
                if len(records) > room:
                    # Over the bound: take the rest again once the lane has drained.
                    consumer.seek(tp, records[room].offset)
                if lane.buffered >= bound:
                    self._pause(consumer, tp, lane)

    def _pause(self, consumer: AIOKafkaConsumer, tp: TopicPartition, lane: PartitionLane) -> None:
        if tp in self._paused:
            return
        consumer.pause(tp)
        self._paused.add(tp)
        self.metrics.paused_partitions.set(len(self._paused))
        _log.info(
            "partition_paused",
            extra={"fields": {"partition": tp.partition, "buffered": lane.buffered}},
        )

    def _progress(self, lane: PartitionLane) -> None:
        tp = lane.tp
        if tp in self._paused and lane.buffered <= self.settings.partition_buffer // 2:
            self._paused.discard(tp)
            self.metrics.paused_partitions.set(len(self._paused))
            if self._consumer is not None and tp in self._consumer.assignment():
                self._consumer.resume(tp)
                _log.info("partition_resumed", extra={"fields": {"partition": tp.partition}})

    def _crashed(self, exc: BaseException) -> None:
        if self._fatal is None:
            self._fatal = exc
        self._stop.set()

    # -- rebalance and shutdown -----------------------------------------------------------

    def _adopt(self, assigned: list[TopicPartition]) -> None:
        assert self._flow is not None
        for tp in assigned:
            if tp not in self._lanes:
                self._lanes[tp] = PartitionLane(
                    tp, self._flow.run, on_progress=self._progress, on_crash=self._crashed
                )
        self.joined.set()
        _log.info(
            "partitions_assigned",
            extra={"fields": {"partitions": sorted(tp.partition for tp in assigned)}},
        )

    async def _release(self, revoked: list[TopicPartition]) -> None:
        """Close the revoked lanes within the grace period, commit what is final, drop them."""
        self.joined.clear()
        lanes = [self._lanes[tp] for tp in revoked if tp in self._lanes]
        await asyncio.gather(*(lane.close(self.settings.revoke_grace_seconds) for lane in lanes))
        if self.settings.enabled and self._commits is not None:
            await self._commits.commit_now(only=frozenset(revoked), within=_REVOKE_COMMIT_SECONDS)
            self._commits.forget(revoked)
        for tp in revoked:
            self._lanes.pop(tp, None)
            self._paused.discard(tp)
        self.metrics.paused_partitions.set(len(self._paused))
        if not revoked:
            return
        _log.info(
            "partitions_revoked",
            extra={"fields": {"partitions": sorted(tp.partition for tp in revoked)}},
        )

    async def _drain(self, consumer: AIOKafkaConsumer) -> None:
        """Stop fetching, finish in-flight records, commit: all within the shutdown grace.

        The grace is split: the lanes get most of it, the final commit the rest (1-5 s), so
        that SIGTERM ends in time even when the broker does not answer. What is not committed
        by then is redelivered to the next owner with the same idempotency keys.
        """
        assignment = consumer.assignment()
        if assignment:
            consumer.pause(*assignment)
        grace = self.settings.shutdown_grace_seconds
        commit_budget = min(5.0, max(1.0, grace * _DRAIN_COMMIT_SHARE))
        lanes = list(self._lanes.values())
        started = time.monotonic()
        lane_grace = max(0.0, grace - commit_budget)
        await asyncio.gather(*(lane.close(lane_grace, finish_buffered=True) for lane in lanes))
        committed = True
        if self.settings.enabled and self._commits is not None:
            remaining = grace - (time.monotonic() - started)
            committed = await self._commits.commit_now(within=max(commit_budget, remaining))
        _log.info(
            "drained",
            extra={
                "fields": {
                    "seconds": round(time.monotonic() - started, 3),
                    "committed": committed,
                    "unfinished": sum(lane.buffered for lane in lanes),
                }
            },
        )

    # -- bookkeeping ----------------------------------------------------------------------

    def _systemic_changed(self, is_open: bool, reason: str) -> None:
        self.metrics.systemic_failure.set(0 if is_open else 1)
        self.alerts.systemic_changed(is_open, reason)

    def _dead_letters_stalled(self, attempt: int, error: BaseException) -> None:
        self.metrics.dlq_write_failures.inc()
        text = f"{type(error).__name__}: {error}"[:300]
        self.alerts.dead_letters_stalled(self.settings.dlq_topic, attempt, text)

    def _committed(self, offsets: Mapping[TopicPartition, int]) -> None:
        self.metrics.commits.inc()
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug(
                "committed",
                extra={"fields": {"offsets": {tp.partition: o for tp, o in offsets.items()}}},
            )

    async def _watch(self, consumer: AIOKafkaConsumer) -> None:
        """Refresh lag, age and broker-reachability every second."""
        tick = 0
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), _WATCH_INTERVAL)
            tick += 1
            self._refresh_gauges(consumer)
            if tick % _BROKER_CHECK_EVERY == 0:
                await self._check_broker(consumer)

    def _refresh_gauges(self, consumer: AIOKafkaConsumer) -> None:
        assert self._commits is not None
        topic = self.settings.topic
        oldest = 0.0
        for tp, lane in list(self._lanes.items()):
            oldest = max(oldest, lane.tracker.oldest_unfinished_age())
            highwater = consumer.highwater(tp)
            committed = self._commits.committed(tp)
            if highwater is not None and committed is not None:
                self.metrics.lag.labels(topic, str(tp.partition)).set(max(0, highwater - committed))
        self.metrics.oldest_uncommitted_age.set(oldest)

    async def _check_broker(self, consumer: AIOKafkaConsumer) -> None:
        try:
            reach = await probe_broker(consumer, within=_BROKER_CHECK_EVERY)
        except Exception as exc:  # a check that cannot run is a bug, not a broker outage
            self._crashed(exc)
            return
        if not reach.reachable and self._broker_ok:
            _log.error("broker_unreachable", extra={"fields": {"error": reach.error}})
        self._broker_ok = reach.reachable


async def _bounded(what: str, closing: Awaitable[None]) -> None:
    """Await a client's close for at most `_CLOSE_CLIENT_SECONDS`.

    An unreachable peer cannot hold the exit: what it would have sent is either committed
    already or redelivered.
    """
    try:
        await asyncio.wait_for(closing, _CLOSE_CLIENT_SECONDS)
    except TimeoutError:
        _log.warning("close_timeout", extra={"fields": {"what": what}})
    except asyncio.CancelledError:
        if (task := asyncio.current_task()) is not None and task.cancelling():
            raise
        # Not us being cancelled: aiokafka's Fetcher.close() lets out a fetch task's own
        # cancellation when stop() comes while that task backs off after a failed fetch.
        _log.warning("close_failed", extra={"fields": {"what": what, "error": "CancelledError"}})
    except Exception as exc:  # closing a broken client must not mask the run's own outcome
        _log.warning("close_failed", extra={"fields": {"what": what, "error": repr(exc)[:300]}})


async def run_until_signalled(relay: Relay) -> None:
    """Run `relay`, turning SIGTERM/SIGINT into a graceful stop."""
    import signal  # noqa: PLC0415

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, relay.request_stop)
    await relay.run()
