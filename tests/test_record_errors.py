"""An unexpected error in handling one record is retried with backoff: never fatal, never lost."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping

import pytest
from aiokafka.structs import ConsumerRecord
from relay_harness import encode, relay_settings, signal

from consumer.adapters import DeadLetterWriter, HttpAnswer, HttpSender
from consumer.config import RetrySettings
from consumer.ops import RelayMetrics
from consumer.service import (
    Abandoned,
    Final,
    RecordFlow,
    RetryPolicy,
    SystemicGate,
    prepare_signal,
)


class FlakyClient:
    """An `HttpClient` double: raises a non-transport error `failures` times, then answers 201."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.fifth_call = asyncio.Event()
        self.signatures: list[str] = []

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> HttpAnswer:
        self.calls += 1
        if self.calls == 5:
            self.fifth_call.set()
        self.signatures.append(headers["X-Signature"])
        if self.calls <= self.failures:
            raise RuntimeError(f"no client saw this coming (call {self.calls})")
        return HttpAnswer(201, {}, "")

    async def aclose(self) -> None:
        return None


def _record(value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("t", 0, 7, 0, 0, b"EURUSD", value, None, 6, len(value), ())


class MemoryProducer:
    """The dead-letter producer seam: keeps what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, list[tuple[str, bytes]]]] = []

    async def send_and_wait(
        self,
        topic: str,
        *,
        value: bytes | None,
        key: bytes | None,
        headers: list[tuple[str, bytes]],
    ) -> None:
        self.sent.append((topic, value, headers))


NOW = 1_800_000_000.0


def _flow(
    client: FlakyClient, metrics: RelayMetrics, *, dry_run: bool = False, max_attempts: int = 0
) -> tuple[RecordFlow, HttpSender, MemoryProducer]:
    settings = relay_settings("127.0.0.1:9", "t", "http://127.0.0.1:9")
    sender = HttpSender(settings, client, metrics, clock=lambda: NOW)
    policy = RetryPolicy(
        RetrySettings(base_seconds=0.0, max_seconds=0.0, max_attempts=max_attempts)
    )
    producer = MemoryProducer()
    flow = RecordFlow(
        sender=sender,
        dead_letters=None if dry_run else DeadLetterWriter(producer, "t.dlq", policy),
        gate=SystemicGate(0.01),
        policy=policy,
        metrics=metrics,
        max_body_size=65536,
        clock=lambda: NOW,
    )
    return flow, sender, producer


async def test_unexpected_error_is_retried_until_delivered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Three errors no transport anticipated: logged, counted, and the fourth attempt delivers."""
    client, metrics = FlakyClient(failures=3), RelayMetrics()
    flow, _, _ = _flow(client, metrics)
    record = _record(encode(signal("EURUSD", 1)))
    with caplog.at_level(logging.ERROR, logger="signal_relay.record"):
        outcome = await asyncio.wait_for(flow.run(record, asyncio.Event(), 0.0), 10)
    assert outcome is Final.DELIVERED
    assert client.calls == 4
    assert metrics.record_errors._value.get() == 3
    assert [r.getMessage() for r in caplog.records].count("record_error") == 3


async def test_closing_interrupts_the_error_backoff() -> None:
    """A record failing with errors is abandoned at revocation, not committed."""
    client, metrics = FlakyClient(failures=10**9), RelayMetrics()
    flow, _, producer = _flow(client, metrics)
    closing = asyncio.Event()
    task = asyncio.create_task(flow.run(_record(encode(signal("EURUSD", 1))), closing, 0.0))
    await asyncio.wait_for(client.fifth_call.wait(), 10)
    closing.set()
    with pytest.raises(Abandoned):
        await asyncio.wait_for(task, 10)
    assert producer.sent == []


async def test_errors_past_max_attempts_go_to_the_dlq() -> None:
    """With RELAY_MAX_ATTEMPTS, a record that keeps failing is dead-lettered, not dropped."""
    client, metrics = FlakyClient(failures=10**9), RelayMetrics()
    flow, _, producer = _flow(client, metrics, max_attempts=3)
    record = _record(encode(signal("EURUSD", 1)))
    assert await asyncio.wait_for(flow.run(record, asyncio.Event(), 0.0), 10) is Final.DEAD_LETTERED
    [(topic, value, headers)] = producer.sent
    found = dict(headers)
    assert (topic, value) == ("t.dlq", record.value)
    assert found["dlq.reason"] == b"max_attempts"
    assert b"RuntimeError" in found["dlq.error"]


async def test_dry_run_logs_no_usable_signature(caplog: pytest.LogCaptureFixture) -> None:
    """Dry run logs a fingerprint of the signature; the signature itself appears nowhere."""
    client, metrics = FlakyClient(failures=0), RelayMetrics()
    flow, sender, _ = _flow(client, metrics, dry_run=True)
    record = _record(encode(signal("EURUSD", 1)))
    with caplog.at_level(logging.DEBUG):
        assert await flow.run(record, asyncio.Event(), 0.0) is Final.DRY_RUN
    assert client.calls == 0
    [entry] = [r for r in caplog.records if r.getMessage() == "dry_run"]
    fields = entry.fields  # type: ignore[attr-defined]
    signature = sender.sign(prepare_signal(record.value, 65536).signal, NOW)["X-Signature"]
    assert "signature" not in fields
    assert fields["signature_sha256"] == hashlib.sha256(signature.encode()).hexdigest()[:16]
    assert all(signature not in repr(r.__dict__) for r in caplog.records)
