"""The relay process: one consumer-group member wiring Kafka, the lanes, commits and shutdown.

Built whole: `Relay(...)` constructs every client and part (inside the event loop that will run
it), `run()` starts them. Lifecycle: start the clients, join the group, then fetch -> lanes ->
final outcomes -> commits until asked to stop. On revocation the revoked lanes close and their
final offsets are committed before they are released; on stop, fetching pauses and the lanes
drain and commit within `RELAY_SHUTDOWN_GRACE_SECONDS`, then the member leaves the group. When
and what is committed is `consumer/service/_commits.py`, top to bottom.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    TopicPartition,
)
from aiokafka.errors import KafkaError

from consumer.adapters._aiokafka_private import fetch_position
from consumer.adapters._broker_probe import probe_broker
from consumer.adapters._dead_letter_fit import DLQ_MAX_MESSAGE_BYTES
from consumer.adapters._dead_letter_writer import DeadLetterWriter, build_dead_letter_producer
from consumer.adapters._fetch_guard import CodecHold, FetchGuard
from consumer.adapters._http import HttpSender, build_http_client
from consumer.adapters._kafka_options import kafka_client_options, kafka_tls_refusal
from consumer.adapters._secret_watch import watch_secret
from consumer.adapters._topic_check import require_topics
from consumer.config import Settings
from consumer.errors import SignalRelayError
from consumer.ops._alerts import Alerts
from consumer.ops._endpoint import OpsServer
from consumer.ops._metrics import RelayMetrics
from consumer.ops._tracing import tracing_for
from consumer.service._commits import CommitLoop, CommitPolicy, ContiguousTracker
from consumer.service._freshness import AgePolicy
from consumer.service._lanes import PartitionLane
from consumer.service._progress import PartitionProgress
from consumer.service._record_flow import RecordFlow
from consumer.service._resume import finished_above_commits
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
# Reading the finished runs above a new partition's commit; past it, nothing is skipped.
_RESUME_SECONDS = 5.0
# Leaving the group and flushing the DLQ producer, each, once the grace is spent.
_CLOSE_CLIENT_SECONDS = 2.0


class RelayError(SignalRelayError, RuntimeError):
    """The relay could not run; `str()` is one line for the operator."""


class RelayStartError(RelayError):
    """Start-up failed (e.g. Kafka unreachable); nothing was consumed."""


class RelayCrashedError(RelayError):
    """A bug or an unrecoverable client error stopped the relay; uncommitted records replay."""


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(
        self,
        revoked: Callable[[list[TopicPartition]], Awaitable[None]],
        assigned: Callable[[list[TopicPartition]], Awaitable[None]],
    ) -> None:
        self._revoked = revoked
        self._assigned = assigned

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._revoked(list(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._assigned(list(assigned))


class Relay:
    """One member of the relay's consumer group, fully wired when constructed.

    Construct it inside the event loop that runs it (the Kafka and HTTP clients bind to the
    running loop), then await `run()` once: `run()` starts the clients and always closes them.
    """

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
        self._drain_grace = settings.shutdown_grace_seconds
        self._lanes: dict[TopicPartition, PartitionLane] = {}
        self._paused: set[TopicPartition] = set()
        self._fatal: BaseException | None = None
        self._broker_ok = True
        self._partition_progress = PartitionProgress(
            self.metrics,
            settings.group_id,
            from_earliest=settings.auto_offset_reset == "earliest",
            read_committed=settings.isolation_level == "read_committed",
        )
        kafka = kafka_client_options(settings.kafka_security)
        # Dry run is decided here, once: no dead-letter producer (the flow only signs and logs)
        # and a commit policy that never commits.
        dry_run = not settings.enabled
        self._consumer = _group_consumer(settings, kafka)
        # Records aiokafka cannot decode come back as `UndecodableRecord`s (dead-lettered); a
        # batch whose codec this process lacks holds its partition (readiness, alert).
        self._guard = FetchGuard(
            self._consumer,
            self._stop,
            read_committed=settings.isolation_level == "read_committed",
            from_earliest=settings.auto_offset_reset == "earliest",
            on_hold=self._codec_held,
        )
        self._producer = (
            None
            if dry_run
            else build_dead_letter_producer(
                settings.bootstrap_servers, kafka, max_message_bytes=DLQ_MAX_MESSAGE_BYTES
            )
        )
        self._http = build_http_client(settings)
        self._ops = OpsServer(render_metrics=self.metrics.render, readiness=self.readiness)
        self._flow = self._record_flow(self._producer)
        self._commits = CommitLoop(
            self.trackers,
            self._consumer.commit,
            settings.commit_interval_seconds,
            policy=CommitPolicy.NEVER if dry_run else CommitPolicy.COMMIT,
            on_committed=self._committed,
            on_failed=self.metrics.commit_failures.inc,
            timeout=max(5.0, 10 * settings.commit_interval_seconds),
        )

    def _record_flow(self, producer: AIOKafkaProducer | None) -> RecordFlow:
        """The flow every lane shares; without a DLQ producer it is a dry run."""
        s, policy = self.settings, RetryPolicy(self.settings.retry)
        writer = (
            None
            if producer is None
            else DeadLetterWriter(
                producer,
                s.dlq_topic,
                policy,
                max_message_bytes=DLQ_MAX_MESSAGE_BYTES,
                on_stalled=self._dead_letters_stalled,
            )
        )
        return RecordFlow(
            sender=HttpSender(s, self._http, self.metrics, secret=watch_secret(s, self.alerts)),
            dead_letters=writer,
            gate=self.gate,
            policy=policy,
            metrics=self.metrics,
            max_body_size=s.max_body_size,
            alerts=self.alerts,
            age_policy=AgePolicy(s.max_signal_age_seconds),
            tracing=tracing_for(s.tracing),
            dead_letter_rejected=s.dead_letter_rejected,
        )

    # -- public surface -------------------------------------------------------------------

    def request_stop(self, within: float | None = None) -> None:
        """Begin a graceful shutdown (SIGTERM/SIGINT); `within` s shortens the shutdown grace."""
        if within is not None:
            self._drain_grace = min(self._drain_grace, within)
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """True once a stop was requested or a crash began one; `run()` is ending."""
        return self._stop.is_set()

    @property
    def crashed(self) -> BaseException | None:
        """What crashed the relay (`run()` raises `RelayCrashedError` from it), or None."""
        return self._fatal

    def readiness(self) -> tuple[bool, str]:
        """Ready = in the group, broker up, no systemic pause, no partition held by a codec."""
        if not self.joined.is_set():
            return False, "not in the consumer group"
        if not self._broker_ok:
            return False, "broker unreachable"
        if not self.gate.is_open:
            return False, f"deliveries paused: {self.gate.reason}"
        for tp, hold in sorted(self._guard.held.items()):
            return False, hold.describe(tp)
        return True, ""

    def trackers(self) -> dict[TopicPartition, ContiguousTracker]:
        """The commit trackers of the partitions this member owns."""
        return {tp: lane.tracker for tp, lane in self._lanes.items()}

    async def run(self) -> None:
        """Run until `request_stop()`; raise `RelayCrashedError` if a worker crashed."""
        s = self.settings
        consumer, producer, ops = self._consumer, self._producer, self._ops
        background: list[asyncio.Task[None]] = []
        try:
            self.alerts.start()
            if s.metrics_port:
                self.ops_port = await ops.start(s.metrics_host, s.metrics_port)
            consumer.subscribe([s.topic], listener=_Rebalance(self._release, self._adopt))
            try:
                # Before any client asks for the topics by name: that would create them.
                needed = [s.topic, s.dlq_topic] if producer is not None else [s.topic]
                await require_topics(
                    s.bootstrap_servers,
                    needed,
                    client_options=kafka_client_options(s.kafka_security),
                )
                if producer is not None:
                    await producer.start()
                await consumer.start()
            except KafkaError as exc:
                tls = await kafka_tls_refusal(s.kafka_security, s.bootstrap_servers)
                raise RelayStartError(
                    f"cannot join group {s.group_id!r} at {s.bootstrap_servers}: {exc}{tls}"
                ) from exc
            _log.info(
                "relay_started",
                extra={"fields": {"topic": s.topic, "group": s.group_id, "dry_run": not s.enabled}},
            )
            background.append(asyncio.create_task(self._commits.run(self._stop)))
            background.append(asyncio.create_task(self._watch(consumer)))
            background.append(
                asyncio.create_task(
                    self._partition_progress.run(
                        consumer, self._lanes, self._commits.committed, self._stop
                    )
                )
            )
            await self._consume(consumer)
            await self._drain(consumer)
        finally:
            await _even_if_cancelled(self._close(background))
        if self._fatal is not None:
            _log.critical("relay_crashed", extra={"fields": {"error": repr(self._fatal)[:500]}})
            raise RelayCrashedError(str(self._fatal)) from self._fatal

    async def _close(self, background: list[asyncio.Task[None]]) -> None:
        """Stop the background tasks, then close every client, each within its bound."""
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await _bounded("consumer_stop", self._consumer.stop())
        if self._producer is not None:
            await _bounded("producer_stop", self._producer.stop())
        await _bounded("http_close", self._http.aclose())
        await self.alerts.close()
        await self._ops.stop()
        _log.info("relay_stopped", extra={"fields": {"crashed": self._fatal is not None}})

    # -- the fetch loop -------------------------------------------------------------------

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        bound = self.settings.partition_buffer
        guard = self._guard
        while not self._stop.is_set():
            batch = await guard.getmany(
                self._lanes,
                timeout_ms=_FETCH_TIMEOUT_MS,
                max_records=_MAX_BATCH,
                backpressured=self._paused,
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
            for tp, lane in self._lanes.items():
                # Everything fetched is final: what lies below the position is gaps (markers).
                if not lane.buffered and not lane.closing.is_set():
                    lane.tracker.advance_to(fetch_position(consumer, tp))

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
            if tp in self._consumer.assignment():
                self._consumer.resume(tp)
                _log.info("partition_resumed", extra={"fields": {"partition": tp.partition}})

    def _crashed(self, exc: BaseException) -> None:
        if self._fatal is None:
            self._fatal = exc
        self._stop.set()

    # -- rebalance and shutdown -----------------------------------------------------------

    async def _adopt(self, assigned: list[TopicPartition]) -> None:
        new = [tp for tp in assigned if tp not in self._lanes]
        for tp in new:
            self._lanes[tp] = PartitionLane(
                tp, self._flow.run, on_progress=self._progress, on_crash=self._crashed
            )
        await self._skip_finished(new)
        self.joined.set()
        self._partition_progress.assigned(len(self._lanes))
        _log.info(
            "partitions_assigned",
            extra={"fields": {"partitions": sorted(tp.partition for tp in assigned)}},
        )

    async def _skip_finished(self, tps: list[TopicPartition]) -> None:
        """New lanes skip what an earlier owner finished (`_resume.py`); paused meanwhile."""
        if not tps:
            return
        self._consumer.pause(*tps)
        try:
            found = await finished_above_commits(self._consumer, tps, within=_RESUME_SECONDS)
            for tp, ranges in found.items():
                self._lanes[tp].tracker.resume(ranges, self.metrics.skipped_finished.inc)
        finally:
            self._consumer.resume(*(tp for tp in tps if tp in self._consumer.assignment()))

    async def _release(self, revoked: list[TopicPartition]) -> None:
        """Close the revoked lanes, commit what is final (`CommitLoop.revoke`), drop them."""
        self.joined.clear()
        lanes = [self._lanes[tp] for tp in revoked if tp in self._lanes]
        await self._commits.revoke(lanes, self.settings.revoke_grace_seconds)
        for tp in revoked:
            self._lanes.pop(tp, None)
            self._paused.discard(tp)
        self.metrics.paused_partitions.set(len(self._paused))
        self._partition_progress.revoked(revoked, len(self._lanes))
        if not revoked:
            return
        _log.info(
            "partitions_revoked",
            extra={"fields": {"partitions": sorted(tp.partition for tp in revoked)}},
        )

    async def _drain(self, consumer: AIOKafkaConsumer) -> None:
        """Stop fetching; finish, then commit, within the shutdown grace (`CommitLoop.drain`)."""
        assignment = consumer.assignment()
        if assignment:
            consumer.pause(*assignment)
        lanes = list(self._lanes.values())
        await self._commits.drain(lanes, self._drain_grace)

    # -- bookkeeping ----------------------------------------------------------------------

    def _systemic_changed(self, is_open: bool, reason: str) -> None:
        self.metrics.systemic_failure.set(0 if is_open else 1)
        self.alerts.systemic_changed(is_open, reason)

    def _codec_held(self, tp: TopicPartition, hold: CodecHold) -> None:
        self.metrics.codec_held_partitions.set(len(self._guard.held))
        self.alerts.codec_missing(f"{tp.topic}/{tp.partition}", hold.codec, hold.describe(tp))

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
        """Refresh age and broker-reachability every second (lag: `PartitionProgress.run`)."""
        tick = 0
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), _WATCH_INTERVAL)
            tick += 1
            self._refresh_gauges()
            if tick % _BROKER_CHECK_EVERY == 0:
                await self._check_broker(consumer)

    def _refresh_gauges(self) -> None:
        oldest = 0.0
        for lane in list(self._lanes.values()):
            oldest = max(oldest, lane.tracker.oldest_unfinished_age())
        self.metrics.oldest_uncommitted_age.set(oldest)
        self.metrics.codec_held_partitions.set(len(self._guard.held))

    async def _check_broker(self, consumer: AIOKafkaConsumer) -> None:
        try:
            reach = await probe_broker(consumer, within=_BROKER_CHECK_EVERY)
        except Exception as exc:  # a check that cannot run is a bug, not a broker outage
            self._crashed(exc)
            return
        if not reach.reachable and self._broker_ok:
            _log.error("broker_unreachable", extra={"fields": {"error": reach.error}})
        self._broker_ok = reach.reachable


def _group_consumer(settings: Settings, kafka: Mapping[str, Any]) -> AIOKafkaConsumer:
    """The group member's consumer: explicit commits only (`enable_auto_commit=False`).

    `KAFKA_ISOLATION_LEVEL` is passed on as it is: under `read_committed` (the default) the
    broker answers fetches only up to the last stable offset and aiokafka drops the records
    of aborted transactions, so no signal a producer aborted is ever signed or sent.
    """
    return AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=settings.group_id,
        enable_auto_commit=False,
        isolation_level=settings.isolation_level,
        auto_offset_reset=settings.auto_offset_reset,
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=settings.heartbeat_interval_ms,
        rebalance_timeout_ms=settings.rebalance_timeout_ms,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        fetch_min_bytes=settings.fetch_min_bytes,
        max_partition_fetch_bytes=settings.max_partition_fetch_bytes,
        group_instance_id=settings.group_instance_id,
        client_id=f"signal-relay-{settings.producer_id}",
        **kafka,
    )


async def _even_if_cancelled(closing: Coroutine[Any, Any, None]) -> None:
    """Run `closing` to its end even if the caller is cancelled meanwhile, then re-raise.

    A run cancelled while it closes (a supervisor's second cancel, a test's timeout) would
    otherwise leave a producer or an HTTP session open; every closing step is bounded, so
    waiting for them ends.
    """
    task = asyncio.ensure_future(closing)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise


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
