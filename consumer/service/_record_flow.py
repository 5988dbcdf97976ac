"""What happens to one record, from its bytes to a final outcome.

parse and validate -> canonical body and signal_id -> (dry run: sign, log, stop) ->
attempt until 201/409 (delivered), a 201 the server rejected (`rejected`, dead-lettered too
when so configured), a terminal answer (DLQ), or exhaustion (DLQ), waiting out
systemic failures and backing off between transient ones. `run` returns only once the record
is final; the caller then marks its offset. If the record's partition is released meanwhile,
`Abandoned` is raised and the record stays uncommitted for its next owner. Before every attempt
the signal-age policy (`_freshness`) may find the signal too old to send: it goes to the DLQ as
`expired` instead.

An exception nobody anticipated (a bug, an answer no client foresaw) never ends the process:
a restart would meet the same record and crash again, and the stream would stop. It is logged
(`record_error`, with the exception type), counted (`signal_relay_record_errors_total`), alerted
like a failing key, and the record is tried again from the start after a backoff; with
`RELAY_MAX_ATTEMPTS` set it goes to the DLQ as `max_attempts` once they are used up. Other keys
go on meanwhile; nothing is dropped and nothing is committed early. A dead letter the DLQ refuses
for good (`DeadLetterError`) is handled the same way, minus the giving up: the record stays
unfinished and alerted until the DLQ takes it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

from aiokafka.structs import ConsumerRecord

from consumer.adapters._dead_letter_fit import DeadLetterError
from consumer.adapters._dead_letter_format import DeadLetter, dlq_headers
from consumer.adapters._dead_letter_writer import DeadLetterWriter
from consumer.adapters._http import AttemptResult, HttpSender, redact_userinfo
from consumer.adapters._raw_batches import UndecodableRecord
from consumer.errors import SignalRelayError
from consumer.ops._alerts import Alerts
from consumer.ops._logs import (
    RecordContext,
    bind_record,
    identify_record,
    relay_logger,
    unbind_record,
)
from consumer.ops._metrics import RelayMetrics
from consumer.ops._tracing import NO_TRACING, Tracing
from consumer.service._freshness import AgePolicy, Birth, Expiry, signal_birth
from consumer.service._outcome import Decision, Final, Outcome, classify
from consumer.service._prepare import CanonicalTooLargeError, prepare_signal
from consumer.service._retry import RetryPolicy
from consumer.service._systemic import SystemicGate
from schemas.errors import RecordError
from signing.canonical import CanonicalSignal

__all__ = ["Abandoned", "RecordFlow"]

_log = relay_logger("signal_relay.record")
_MAX_DLQ_BODY = 1024  # `dlq.http.body` is cut to 1 KiB


class Abandoned(SignalRelayError):  # not a failure: the partition was released mid-flight
    """The record's partition is being released; the record stays uncommitted."""


class RecordFlow:
    """Takes one record to its final outcome; shared by all lanes of a process.

    Without a `dead_letters` writer the flow is a dry run: it validates and signs, logs what it
    would send or dead-letter, and sends nothing.
    """

    def __init__(
        self,
        *,
        sender: HttpSender,
        dead_letters: DeadLetterWriter | None,
        gate: SystemicGate,
        policy: RetryPolicy,
        metrics: RelayMetrics,
        max_body_size: int,
        clock: Callable[[], float] = time.time,
        alerts: Alerts | None = None,
        age_policy: AgePolicy | None = None,
        tracing: Tracing = NO_TRACING,
        dead_letter_rejected: bool = False,
    ) -> None:
        self._sender = sender
        self._dead_letters = dead_letters
        self._gate = gate
        self._policy = policy
        self._metrics = metrics
        self._max_body_size = max_body_size
        self._clock = clock
        self._alerts = alerts
        self._age_policy = age_policy or AgePolicy()
        self._tracing = tracing
        self._dead_letter_rejected = dead_letter_rejected

    async def run(
        self, record: ConsumerRecord[bytes, bytes], closing: asyncio.Event, fetched_at: float
    ) -> Final:
        """Return the record's final outcome; raise `Abandoned` if `closing` interrupts."""
        # Every line logged while handling the record carries where it is (signal_id, once known),
        # and the record's span (consumer/ops/_tracing.py) notes its outcome.
        token = bind_record(RecordContext(record.topic, record.partition, record.offset))
        try:
            with self._tracing.record(record) as traced:
                failures = 0
                while True:
                    try:
                        final = await self._handling(record, closing, fetched_at)
                    except Abandoned:
                        raise
                    except Exception as exc:  # see the module docstring: retried, never fatal
                        failures += 1
                        after = await self._after_error(record, closing, exc, failures)
                        if after is None:
                            continue
                        final = after
                    traced.finished(final.value)
                    return final
        finally:
            unbind_record(token)

    async def _after_error(
        self,
        record: ConsumerRecord[bytes, bytes],
        closing: asyncio.Event,
        exc: Exception,
        failures: int,
    ) -> Final | None:
        """Give up into the DLQ once attempts are used up; else back off. None: try again."""
        # A dead letter that cannot be written cannot be given up into the DLQ either.
        if self._policy.exhausted(failures) and not isinstance(exc, DeadLetterError):
            return await self._give_up(record, exc, failures)
        await _sleep_unless_closing(self._record_error(record, exc, failures), closing)
        return None

    def _record_error(
        self, record: ConsumerRecord[bytes, bytes], exc: Exception, failures: int
    ) -> float:
        error = redact_userinfo(f"{type(exc).__name__}: {exc}")[:300]
        delay = self._policy.delay(failures)
        self._metrics.record_errors.inc()
        _log.error("record_error", error=error, attempt=failures, retry_in_s=round(delay, 3))
        if self._alerts is not None:
            self._alerts.record_failing(record, failures, error, None)
        return delay

    async def _give_up(
        self, record: ConsumerRecord[bytes, bytes], exc: Exception, failures: int
    ) -> Final:
        now = self._clock()
        error = redact_userinfo(f"gave up after {failures} errors: {type(exc).__name__}: {exc}")
        return await self._dead_letter(
            record, DeadLetter("max_attempts", error, failures, now, now)
        )

    def _handling(
        self, record: ConsumerRecord[bytes, bytes], closing: asyncio.Event, fetched_at: float
    ) -> Coroutine[Any, Any, Final]:
        """What takes the record to its outcome, decided at once: the coroutine that does it.

        Not itself a coroutine: every suspension while a request is in flight passes through
        each coroutine frame above it, so one frame less here is a little less per request.
        """
        if isinstance(record, UndecodableRecord):
            # The Kafka client could not decode it (consumer/adapters/_fetch_guard.py): never sent.
            now = self._clock()
            letter = DeadLetter(
                "undecodable", record.error, 0, now, now, first_offset=record.first_offset
            )
            return self._dead_letter(record, letter)
        try:
            prepared = prepare_signal(record.value, self._max_body_size)
            signal = prepared.signal
            identify_record(signal.signal_id)
            self._tracing.identify(signal.signal_id)
        except RecordError as exc:
            now = self._clock()
            signal_id = exc.signal_id if isinstance(exc, CanonicalTooLargeError) else None
            letter = DeadLetter(exc.dlq_reason, str(exc), 0, now, now, signal_id=signal_id)
            return self._dead_letter(record, letter)
        # Without an age limit nothing asks when the signal was born.
        birth = (
            signal_birth(prepared.generated_at, record.timestamp)
            if self._age_policy.max_age_seconds is not None
            else None
        )
        if self._dead_letters is None:
            return self._dry_run(record, signal, birth)
        return self._deliver(record, signal, closing, fetched_at, birth)

    async def _dry_run(
        self, record: ConsumerRecord[bytes, bytes], signal: CanonicalSignal, birth: Birth | None
    ) -> Final:
        """Sign and log the request that would be sent; never send it, never dead-letter."""
        if expiry := self._age_policy.judge(birth, self._clock()):
            return await self._expired(record, signal, expiry, 0, 0.0, None)
        headers = self._sender.sign(signal, self._clock())
        # A fingerprint, never the signature: a logged signature would be a valid request
        # for anyone who reads the log, inside the server's freshness window.
        # The seed's headers, or the Standard Webhooks profile's.
        signature = headers.get("X-Signature") or headers["webhook-signature"]
        fingerprint = hashlib.sha256(signature.encode()).hexdigest()[:16]
        _log.info(
            "dry_run",
            signed_timestamp=headers.get("X-Timestamp") or headers["webhook-timestamp"],
            signature_sha256=fingerprint,
            body_bytes=len(signal.body),
        )
        self._metrics.outcomes.labels(Final.DRY_RUN.value).inc()
        return Final.DRY_RUN

    async def _deliver(
        self,
        record: ConsumerRecord[bytes, bytes],
        signal: CanonicalSignal,
        closing: asyncio.Event,
        fetched_at: float,
        birth: Birth | None,
    ) -> Final:
        attempt, first_at = 0, 0.0
        result: AttemptResult | None = None
        while True:
            if not self._gate.is_open:
                await _unless_closing(self._gate.passage(), closing)
            if birth is not None and (expiry := self._age_policy.judge(birth, self._clock())):
                return await self._expired(record, signal, expiry, attempt, first_at, result)
            attempt += 1
            ticket = self._gate.ticket()  # when it was sent: see consumer/service/_systemic.py
            with self._tracing.attempt(attempt) as traced:
                result = await self._sender.send(signal, traced.headers())
                decision = classify(
                    result.status,
                    result.headers,
                    tls_refusal=result.tls_refusal,
                    body=result.content,
                )
                outcome = decision.outcome
                traced.answered(result.status, outcome.value, result.duration, result.error)
            first_at = first_at or result.at
            if outcome is Outcome.DELIVERED or outcome is Outcome.DUPLICATE:
                self._gate.clear(ticket)
                return self._delivered(record, signal, result, attempt, fetched_at, outcome)
            if outcome is Outcome.REJECTED:
                self._gate.clear(ticket)
                return await self._rejected(record, signal, result, attempt, first_at, decision)
            if outcome is Outcome.TERMINAL:
                self._gate.clear(ticket)
                reason = decision.dlq_reason or "http_4xx"
                error = f"HTTP {result.status} after {attempt} attempt(s)"
                return await self._dead_letter(
                    record, self._letter(reason, error, attempt, first_at, result, signal)
                )
            if outcome is Outcome.SYSTEMIC:
                cause = (
                    f"HTTP {result.status}" if result.tls_refusal is None else result.tls_refusal
                )
                self._gate.trip(f"{cause} from the signal server", ticket)
                continue
            if self._alerts is not None:
                failure = result.error or f"HTTP {result.status}"
                self._alerts.record_failing(record, attempt, failure, signal.signal_id)
            if self._policy.exhausted(attempt):
                error = (
                    f"gave up after {attempt} attempts: {result.error or f'HTTP {result.status}'}"
                )
                return await self._dead_letter(
                    record, self._letter("max_attempts", error, attempt, first_at, result, signal)
                )
            self._metrics.retries.inc()
            delay = self._policy.delay(attempt, decision.retry_after)
            _log.info(
                "retry",
                status=result.status,
                error=result.error,
                attempt=attempt,
                retry_in_s=round(delay, 3),
            )
            await _sleep_unless_closing(delay, closing)

    def _delivered(
        self,
        record: ConsumerRecord[bytes, bytes],
        signal: CanonicalSignal,
        result: AttemptResult,
        attempt: int,
        fetched_at: float,
        outcome: Outcome,
    ) -> Final:
        if outcome is Outcome.DELIVERED:
            self._metrics.delivered.inc()
            self._metrics.delivery_latency.observe(time.monotonic() - fetched_at)
            self._metrics.observe_record_age(record.timestamp, self._clock())
        else:
            self._metrics.duplicate.inc()
        if _log.isEnabledFor(logging.DEBUG) or outcome is Outcome.DUPLICATE:
            _log.log(
                logging.DEBUG if outcome is Outcome.DELIVERED else logging.INFO,
                outcome.value,
                status=result.status,
                attempt=attempt,
                duration_ms=round(result.duration * 1000, 2),
            )
        return Final.DELIVERED if outcome is Outcome.DELIVERED else Final.DUPLICATE

    async def _rejected(
        self,
        record: ConsumerRecord[bytes, bytes],
        signal: CanonicalSignal,
        result: AttemptResult,
        attempt: int,
        first_at: float,
        decision: Decision,
    ) -> Final:
        """The server refused the signal in its 201: final, never delivered; maybe a dead letter."""
        said = decision.verdict.explanation() if decision.verdict is not None else ""
        replayed = result.headers.get("idempotent-replayed", "").strip().lower() == "true"
        _log.warning(
            "rejected", status=result.status, attempt=attempt, replayed=replayed, server_said=said
        )
        if self._dead_letter_rejected and self._dead_letters is not None:
            error = f"HTTP 201 rejected by the server: {said}"
            letter = self._letter("rejected", error, attempt, first_at, result, signal)
            # A 201's text is not kept (`AttemptResult.body`); its bytes are, and they say why.
            body = result.content[:_MAX_DLQ_BODY].decode("utf-8", "replace")
            await self._write_dead_letter(
                self._dead_letters, record, replace(letter, http_body=body)
            )
        self._metrics.outcomes.labels(Final.REJECTED.value).inc()
        return Final.REJECTED

    async def _expired(
        self,
        record: ConsumerRecord[bytes, bytes],
        signal: CanonicalSignal,
        expiry: Expiry,
        attempts: int,
        first_at: float,
        last: AttemptResult | None,
    ) -> Final:
        """Dead-letter a signal too old to send, with the attempts made so far (if any)."""
        if last is None:
            now = self._clock()
            letter = DeadLetter(
                "expired", expiry.describe(), 0, now, now, signal_id=signal.signal_id
            )
        else:
            letter = self._letter("expired", expiry.describe(), attempts, first_at, last, signal)
        return await self._dead_letter(record, replace(letter, age_seconds=expiry.age_seconds))

    @staticmethod
    def _letter(
        reason: str,
        error: str,
        attempts: int,
        first_at: float,
        result: AttemptResult,
        signal: CanonicalSignal,
    ) -> DeadLetter:
        return DeadLetter(
            reason=reason,
            error=error,
            attempts=attempts,
            first_attempt_at=first_at,
            last_attempt_at=result.at,
            http_status=result.status,
            http_body=result.body if result.status is not None else result.error,
            signal_id=signal.signal_id,
        )

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], letter: DeadLetter) -> Final:
        fields = {
            "signal_id": letter.signal_id,
            "reason": letter.reason,
            "error": letter.error[:300],
            "status": letter.http_status,
            "attempt": letter.attempts,
        }
        if self._dead_letters is None:
            _log.warning("dry_run_dead_letter", **fields)
            self._metrics.outcomes.labels(Final.DRY_RUN_DEAD_LETTER.value).inc()
            return Final.DRY_RUN_DEAD_LETTER
        await self._write_dead_letter(self._dead_letters, record, letter)
        self._metrics.outcomes.labels(Final.DEAD_LETTERED.value).inc()
        _log.warning("dead_lettered", **fields)
        return Final.DEAD_LETTERED

    async def _write_dead_letter(
        self, writer: DeadLetterWriter, record: ConsumerRecord[bytes, bytes], letter: DeadLetter
    ) -> None:
        """Write `letter` to the DLQ (acknowledged) and count it by reason."""
        headers = dlq_headers(
            record.headers,
            letter,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )
        await writer.write(key=record.key, value=record.value, headers=headers)
        self._metrics.dead_lettered.labels(letter.reason).inc()


async def _sleep_unless_closing(delay: float, closing: asyncio.Event) -> None:
    """Sleep `delay` seconds; raise `Abandoned` at once if `closing` is (or becomes) set."""
    if closing.is_set():
        raise Abandoned
    try:
        await asyncio.wait_for(closing.wait(), delay)
    except TimeoutError:
        return
    raise Abandoned


async def _unless_closing(waiting: Coroutine[Any, Any, None], closing: asyncio.Event) -> None:
    """Await `waiting` (a coroutine); raise `Abandoned` if `closing` is set first."""
    if closing.is_set():
        waiting.close()  # never started: close it, or it warns "never awaited"
        raise Abandoned
    task = asyncio.ensure_future(waiting)
    closer = asyncio.ensure_future(closing.wait())
    try:
        await asyncio.wait({task, closer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, closer):
            pending.cancel()
    if closing.is_set():
        raise Abandoned
