"""When an operator alert fires: a systemic failure that persists, a key that keeps failing,
a dead-letter queue that stalls, and recovery.

The relay calls the hooks: `Alerts.systemic_changed` (from the systemic gate),
`Alerts.record_failing` (from a record's retry path), `Alerts.dead_letters_stalled` and
`Alerts.secret_refused` (from the secret file's watch). A hook
decides at once whether an alert is due (threshold, rate limit) and queues it; a background task
sends queued alerts to every sink (`consumer.ops._alert_sinks`). Sending therefore never delays a
delivery: a full queue drops the alert, a failing sink is logged, and neither ever raises into
the relay. With no sink configured the hooks do nothing and the `systemic_failure` log event
(`alert: true`) is the only alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence

from aiokafka.structs import ConsumerRecord

from consumer.config import AlertSettings, Settings
from consumer.ops._alert_model import Alert, FieldValue, Severity
from consumer.ops._alert_sinks import AlertSendError, AlertSink, TelegramSink, WebhookSink

__all__ = ["AlertRateLimiter", "Alerts"]

_log = logging.getLogger("signal_relay.alerts")

_QUEUE_SIZE = 100
_CLOSE_FLUSH_SECONDS = 2.0
_HOUR = 3600.0
_FORGET_AFTER = 1024


class AlertRateLimiter:
    """At most one alert per (kind, key) every `min_interval` seconds, `max_per_hour` in all."""

    def __init__(
        self,
        min_interval: float,
        max_per_hour: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._min_interval = min_interval
        self._max_per_hour = max_per_hour
        self._clock = clock
        self._last: dict[tuple[str, str], float] = {}
        self._recent: deque[float] = deque()

    def allow(self, kind: str, key: str) -> bool:
        """True (and counted) when an alert of this kind and key may go out now."""
        now = self._clock()
        recent = self._recent
        while recent and now - recent[0] >= _HOUR:
            recent.popleft()
        last = self._last.get((kind, key))
        if last is not None and now - last < self._min_interval:
            return False
        if len(recent) >= self._max_per_hour:
            return False
        self._last[(kind, key)] = now
        recent.append(now)
        if len(self._last) > _FORGET_AFTER:
            self._forget_before(now - self._min_interval)
        return True

    def _forget_before(self, moment: float) -> None:
        self._last = {k: t for k, t in self._last.items() if t > moment}


class Alerts:
    """Decides which alerts are due and sends them from a background task; owned by the Relay.

    Lifecycle: `start()` inside the running event loop, `await close()` at the end (queued
    alerts get a short moment to go out, then the sinks are closed).
    """

    def __init__(
        self,
        config: AlertSettings,
        sinks: Sequence[AlertSink],
        *,
        limiter: AlertRateLimiter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._sinks = tuple(sinks)
        self._limiter = limiter or AlertRateLimiter(
            config.min_interval_seconds, config.max_per_hour
        )
        self._clock = clock
        self._queue: asyncio.Queue[Alert] = asyncio.Queue(_QUEUE_SIZE)
        self._worker: asyncio.Task[None] | None = None
        self._systemic_timer: asyncio.TimerHandle | None = None
        self._systemic_since: float | None = None
        self._systemic_alerted = False

    @classmethod
    def from_settings(cls, settings: Settings) -> Alerts:
        """Alerts with the sinks `settings.alerts` configures (maybe none)."""
        config = settings.alerts
        sinks: list[AlertSink] = []
        if config.telegram_bot_token is not None and config.telegram_chat_id is not None:
            sinks.append(
                TelegramSink(
                    config.telegram_api_url,
                    config.telegram_bot_token,
                    config.telegram_chat_id,
                    producer_id=settings.producer_id,
                    timeout=config.timeout_seconds,
                )
            )
        if config.webhook_url is not None:
            sinks.append(
                WebhookSink(
                    config.webhook_url,
                    producer_id=settings.producer_id,
                    timeout=config.timeout_seconds,
                )
            )
        return cls(config, sinks)

    def __repr__(self) -> str:
        return f"Alerts(sinks={[sink.name for sink in self._sinks]!r})"

    @property
    def enabled(self) -> bool:
        """True when at least one sink is configured."""
        return bool(self._sinks)

    def start(self) -> None:
        """Start the sending task (call from the running event loop)."""
        if self._sinks and self._worker is None:
            self._worker = asyncio.create_task(self._send_queued(), name="alerts")

    async def close(self) -> None:
        """Stop watching, give queued alerts a moment to go out, close the sinks."""
        if self._systemic_timer is not None:
            self._systemic_timer.cancel()
            self._systemic_timer = None
        if self._worker is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), _CLOSE_FLUSH_SECONDS)
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None
        await asyncio.gather(*(sink.aclose() for sink in self._sinks))

    # -- hooks ----------------------------------------------------------------------------

    def systemic_changed(self, is_open: bool, reason: str) -> None:
        """The systemic gate opened or closed: arm the persistence timer, or resolve."""
        if not self._sinks:
            return
        if self._systemic_timer is not None:
            self._systemic_timer.cancel()
            self._systemic_timer = None
        if not is_open:
            self._systemic_since = self._clock()
            self._systemic_timer = asyncio.get_running_loop().call_later(
                self._config.systemic_after_seconds, self._systemic_persisted, reason
            )
            return
        if self._systemic_alerted:
            self._systemic_alerted = False
            lasted = self._clock() - (self._systemic_since or self._clock())
            self._raise(
                "systemic_resolved",
                "signal_server",
                f"deliveries resumed after {lasted:.0f} s ({reason})",
                "info",
                {"reason": reason, "lasted_s": round(lasted, 1)},
            )
        self._systemic_since = None

    def record_failing(
        self,
        record: ConsumerRecord[bytes, bytes],
        attempt: int,
        error: str,
        signal_id: str | None,
    ) -> None:
        """A record's attempt failed transiently: alert once its attempts reach the threshold."""
        threshold = self._config.key_failure_threshold
        if not self._sinks or threshold == 0 or attempt < threshold:
            return
        key = _key_text(record)
        self._raise(
            "key_failing",
            f"{record.topic}/{record.partition}/{key}",
            f"key {key} has failed {attempt} attempts: {error}",
            "warning",
            {
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "kafka_key": key,
                "signal_id": signal_id,
                "attempts": attempt,
                "last_error": error,
            },
        )

    def dead_letters_stalled(self, topic: str, attempt: int, error: str) -> None:
        """Writing a dead letter keeps failing: its partition's commits wait for the DLQ."""
        threshold = max(1, self._config.key_failure_threshold)
        if not self._sinks or attempt < threshold:
            return
        self._raise(
            "dlq_stalled",
            topic,
            f"dead letters to {topic} have failed {attempt} attempts: {error}",
            "critical",
            {"dlq_topic": topic, "attempts": attempt, "last_error": error},
        )

    def codec_missing(self, partition: str, codec: str, detail: str) -> None:
        """A partition is held at a batch whose codec this process lacks: a deployment fault."""
        if not self._sinks:
            return
        self._raise(
            "codec_missing",
            partition,
            detail,
            "critical",
            {"partition": partition, "codec": codec, "action": f"install aiokafka[{codec}]"},
        )

    def secret_refused(self, variable: str, problem: str) -> None:
        """A rotated signing secret was refused: the relay keeps signing with the old one."""
        if not self._sinks:
            return
        self._raise(
            "secret_refused",
            variable,
            f"the new secret in {variable} was refused ({problem}); signing with the old one",
            "critical",
            {"variable": variable, "problem": problem, "action": "fix the secret file"},
        )

    # -- deciding and sending -------------------------------------------------------------

    def _systemic_persisted(self, reason: str) -> None:
        self._systemic_timer = None
        after = self._config.systemic_after_seconds
        # Resolved is announced only if this went out (a rate-limited failure stays quiet).
        self._systemic_alerted = self._raise(
            "systemic_failure",
            "signal_server",
            f"deliveries paused for {after:g} s: {reason}",
            "critical",
            {
                "reason": reason,
                "action": "check the HMAC secret, OUTBOUND_SERVER_URL and the producer's access",
            },
        )

    def _raise(
        self,
        kind: str,
        key: str,
        summary: str,
        severity: Severity,
        fields: Mapping[str, FieldValue],
    ) -> bool:
        """Queue the alert unless rate-limited or the queue is full; True when queued."""
        if not self._limiter.allow(kind, key):
            _log.debug("alert_suppressed", extra={"fields": {"kind": kind, "key": key}})
            return False
        alert = Alert(kind, key, summary, severity, fields, self._clock())
        try:
            self._queue.put_nowait(alert)
        except asyncio.QueueFull:
            _log.warning("alert_dropped", extra={"fields": {"kind": kind, "key": key}})
            return False
        _log.warning(
            "alert_raised",
            extra={"fields": {"kind": kind, "key": key, "severity": severity, "summary": summary}},
        )
        return True

    async def _send_queued(self) -> None:
        while True:
            alert = await self._queue.get()
            try:
                await asyncio.gather(*(self._send(sink, alert) for sink in self._sinks))
            finally:
                self._queue.task_done()

    @staticmethod
    async def _send(sink: AlertSink, alert: Alert) -> None:
        fields: dict[str, object] = {"sink": sink.name, "kind": alert.kind, "key": alert.key}
        try:
            await sink.send(alert)
        except AlertSendError as exc:
            _log.error("alert_send_failed", extra={"fields": {**fields, "error": str(exc)}})
        except Exception as exc:  # a bug in a sink must not stop alerts or the relay
            # Only the type: an unexpected error's text may quote a URL holding a token.
            _log.error(
                "alert_send_failed", extra={"fields": {**fields, "error": type(exc).__name__}}
            )
        else:
            _log.debug("alert_sent", extra={"fields": fields})


def _key_text(record: ConsumerRecord[bytes, bytes]) -> str:
    key: bytes | None = record.key
    if key is None:
        return "(no key)"
    return key.decode("utf-8", "replace")[:64]
