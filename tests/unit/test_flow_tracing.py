"""The record flow's spans: outcomes, attempts, an abandoned record, a record without context."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from consumer.adapters import HttpAnswer
from consumer.config import RetrySettings
from consumer.ops import tracing_for
from consumer.ops._tracing_otel import OtelTracing
from consumer.service import Abandoned, Final, RetryPolicy
from unit.doubles import TOPIC, WITHIN, Rig, record, rig

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    """Spans of a private provider, kept in memory."""
    return InMemorySpanExporter()


@pytest.fixture
def tracing(exporter: InMemorySpanExporter) -> OtelTracing:
    """The relay's tracing through a provider of its own (not the global one)."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return OtelTracing(provider)


def attribute(span: ReadableSpan, name: str) -> Any:
    """The span's attribute `name`, or None."""
    return (span.attributes or {}).get(name)


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    """Finished spans called `name`, attempts in attempt order."""
    spans = [span for span in exporter.get_finished_spans() if span.name == name]
    return sorted(spans, key=lambda span: attribute(span, "signal_relay.attempt") or 0)


def with_headers(
    base: ConsumerRecord[bytes, bytes], headers: Sequence[tuple[str, bytes]]
) -> ConsumerRecord[bytes, bytes]:
    """`base` carrying Kafka `headers`."""
    return ConsumerRecord(
        TOPIC, base.partition, base.offset, 0, 0, base.key, base.value, None, -1, -1, headers
    )


async def run(r: Rig, closing: asyncio.Event | None = None, offset: int = 0) -> Final:
    """Take record `offset` to its final outcome."""
    return await asyncio.wait_for(r.flow.run(record(offset), closing or asyncio.Event(), 0), WITHIN)


def test_off_is_a_shared_do_nothing() -> None:
    """`off` gives the same no-op object every time, whose attempts add no header."""
    off = tracing_for("off")
    assert off is tracing_for("off")
    with off.record(record(0)) as traced, off.attempt(1) as attempt:
        traced.finished("delivered")
        assert attempt.headers() == {}


async def test_a_duplicate_is_a_success(
    tracing: OtelTracing, exporter: InMemorySpanExporter
) -> None:
    """A 409: the attempt is `duplicate` with an unset status, the record `duplicate`."""
    r = rig(tracing=tracing)
    r.server.script("EURUSD", HttpAnswer(409, {}, "{}"))
    assert await run(r) is Final.DUPLICATE
    (traced,) = named(exporter, "signal_relay.record")
    (attempt,) = named(exporter, "signal_relay.attempt")
    assert attribute(traced, "signal_relay.outcome") == "duplicate"
    assert attribute(attempt, "signal_relay.outcome") == "duplicate"
    assert attempt.status.status_code is StatusCode.UNSET
    assert traced.status.status_code is StatusCode.UNSET


async def test_systemic_and_transport_failures_are_attempts_of_the_record(
    tracing: OtelTracing, exporter: InMemorySpanExporter
) -> None:
    """A 401, a dropped connection and a 201: three numbered attempts under one record span."""
    r = rig(tracing=tracing)
    r.server.script("EURUSD", HttpAnswer(401, {}, ""), ConnectionResetError("reset"))
    assert await run(r) is Final.DELIVERED
    (traced,) = named(exporter, "signal_relay.record")
    attempts = named(exporter, "signal_relay.attempt")
    assert [attribute(a, "signal_relay.attempt") for a in attempts] == [1, 2, 3]
    assert [attribute(a, "signal_relay.outcome") for a in attempts] == [
        "systemic",
        "retry",
        "delivered",
    ]
    assert [attribute(a, "http.response.status_code") for a in attempts] == [401, None, 201]
    assert attribute(attempts[1], "error.type") == "ConnectionResetError"
    assert traced.context is not None
    assert all(a.parent and a.parent.span_id == traced.context.span_id for a in attempts)
    assert all(a.kind is SpanKind.CLIENT for a in attempts)
    assert traced.parent is None  # no traceparent in the record: a trace of its own
    assert attribute(traced, "signal_relay.signal_id") == r.server.posted[0].idempotency_key


async def test_an_abandoned_record_is_unfinished_not_an_error(
    tracing: OtelTracing, exporter: InMemorySpanExporter
) -> None:
    """A record whose partition is released mid-backoff ends its span as `unfinished`."""
    r = rig(tracing=tracing, policy=RetryPolicy(RetrySettings(retry_after_cap_seconds=3600)))
    r.server.script("EURUSD", HttpAnswer(503, {"retry-after": "3600"}, ""))
    closing = asyncio.Event()
    task = asyncio.create_task(run(r, closing))
    await r.server.until(lambda: len(r.server.posted) == 1)
    closing.set()
    with pytest.raises(Abandoned):
        await task
    (traced,) = named(exporter, "signal_relay.record")
    assert attribute(traced, "signal_relay.outcome") == "unfinished"
    assert attribute(traced, "error.type") == "Abandoned"
    assert traced.status.status_code is StatusCode.UNSET
    assert traced.events == ()


async def test_a_malformed_traceparent_starts_a_new_trace(
    tracing: OtelTracing, exporter: InMemorySpanExporter
) -> None:
    """A valid `traceparent` header is the parent; a malformed one is ignored."""
    r = rig(tracing=tracing)
    good = f"00-{TRACE_ID}-{PARENT}-01".encode()
    closing = asyncio.Event()
    traced = with_headers(record(0), [("TraceParent", good)])
    broken = with_headers(record(1), [("traceparent", b"00-not-a-trace-01")])
    for each in (traced, broken):
        assert await asyncio.wait_for(r.flow.run(each, closing, 0), WITHIN) is Final.DELIVERED
    first, second = sorted(
        named(exporter, "signal_relay.record"),
        key=lambda span: attribute(span, "messaging.kafka.offset"),
    )
    assert first.parent is not None
    assert f"{first.parent.span_id:016x}" == PARENT
    assert first.context is not None
    assert f"{first.context.trace_id:032x}" == TRACE_ID
    assert second.parent is None
    assert second.context is not None
    assert f"{second.context.trace_id:032x}" != TRACE_ID


async def test_a_dry_run_record_has_no_attempt(
    tracing: OtelTracing, exporter: InMemorySpanExporter
) -> None:
    """In a dry run the record span ends `dry_run` and no attempt span is made."""
    r = rig(tracing=tracing, dry_run=True)
    assert await run(r) is Final.DRY_RUN
    (traced,) = named(exporter, "signal_relay.record")
    assert attribute(traced, "signal_relay.outcome") == "dry_run"
    assert named(exporter, "signal_relay.attempt") == []
