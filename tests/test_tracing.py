"""Tracing: a span per record, one per attempt, in the publisher's trace and carried in the POST."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from conftest import RunningReceiver, TopicFactory, eventually
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from relay_harness import encode, publish, relay_settings, running_relay, signal

from signing.receiver import Faults

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PUBLISHER_SPAN = "00f067aa0ba902b7"
TRACE_HEADERS = [
    ("traceparent", f"00-{TRACE_ID}-{PUBLISHER_SPAN}-01".encode()),
    ("tracestate", b"desk=emea"),
]
# Seeded dice: the first request is answered 503, the second is accepted.
ONE_503_THEN_201 = Faults(error_rate=0.5, seed=1)
_EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module")
def provider() -> TracerProvider:
    """The process's global SDK tracer provider (set once per process), exporting to memory."""
    current = trace.get_tracer_provider()
    if not isinstance(current, TracerProvider):
        current = TracerProvider()
        trace.set_tracer_provider(current)
    current.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    return current


@pytest.fixture
def spans(provider: TracerProvider) -> Iterator[InMemorySpanExporter]:
    """The in-memory exporter, emptied before and after the test."""
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


def attribute(span: ReadableSpan, name: str) -> Any:
    """The span's attribute `name`, or None."""
    return (span.attributes or {}).get(name)


def named(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    """The finished spans called `name`."""
    return [span for span in spans if span.name == name]


async def test_record_and_attempt_spans_join_the_publishers_trace(
    kafka_bootstrap: str,
    new_topic: TopicFactory,
    receiver: RunningReceiver,
    spans: InMemorySpanExporter,
) -> None:
    """A 503 then a 201: a record span under the publisher's span, two attempt spans, and the
    POST carries the second attempt's `traceparent` and the publisher's `tracestate`."""
    topic = await new_topic(1)
    receiver.app.faults = ONE_503_THEN_201
    (published,) = await publish(
        kafka_bootstrap, topic, [(b"EURUSD", encode(signal("EURUSD", 1)))], TRACE_HEADERS
    )
    await publish(kafka_bootstrap, topic, [(b"EURUSD", b"{not json")])
    settings = relay_settings(kafka_bootstrap, topic, receiver.url, RELAY_TRACING="console")

    async with running_relay(settings):
        await eventually(
            lambda: len(named(spans.get_finished_spans(), "signal_relay.record")) == 2,
            90,
            "two record spans",
        )

    finished = spans.get_finished_spans()
    traced, untraced = sorted(
        named(finished, "signal_relay.record"),
        key=lambda span: attribute(span, "messaging.kafka.offset"),
    )
    assert traced.context is not None
    assert traced.parent is not None
    assert f"{traced.context.trace_id:032x}" == TRACE_ID
    assert f"{traced.parent.span_id:016x}" == PUBLISHER_SPAN
    assert traced.kind is trace.SpanKind.CONSUMER
    (accepted,) = receiver.app.ledger.accepted
    assert dict(traced.attributes or {}) == {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.destination.name": topic,
        "messaging.destination.partition.id": str(published.partition),
        "messaging.kafka.offset": published.offset,
        "signal_relay.signal_id": accepted.signal_id,
        "signal_relay.outcome": "delivered",
    }

    attempts = sorted(
        (span for span in named(finished, "signal_relay.attempt")),
        key=lambda span: attribute(span, "signal_relay.attempt"),
    )
    assert [attribute(a, "http.response.status_code") for a in attempts] == [503, 201]
    assert [attribute(a, "signal_relay.outcome") for a in attempts] == [
        "retry",
        "delivered",
    ]
    assert [attribute(a, "signal_relay.attempt") for a in attempts] == [1, 2]
    for attempt in attempts:
        assert attempt.parent is not None
        assert attempt.parent.span_id == traced.context.span_id
        assert attribute(attempt, "signal_relay.request_duration_ms") > 0
        assert attempt.kind is trace.SpanKind.CLIENT
    assert [a.status.status_code for a in attempts] == [
        trace.StatusCode.ERROR,
        trace.StatusCode.UNSET,
    ]

    # The receiver verified the signature (a 201) and saw the second attempt as the parent.
    assert receiver.app.ledger.count(503) == 1
    second = attempts[1].context
    assert second is not None
    assert accepted.headers["traceparent"] == f"00-{TRACE_ID}-{second.span_id:016x}-01"
    assert accepted.headers["tracestate"] == "desk=emea"

    # A record without a traceparent starts its own trace; an invalid one makes no attempt.
    assert untraced.parent is None
    assert untraced.context is not None
    assert untraced.context.trace_id != traced.context.trace_id
    assert attribute(untraced, "signal_relay.outcome") == "dead_lettered"
    assert untraced.status.status_code is trace.StatusCode.ERROR
    assert all(a.parent and a.parent.span_id != untraced.context.span_id for a in attempts)


async def test_tracing_off_makes_no_spans_and_adds_no_headers(
    kafka_bootstrap: str,
    new_topic: TopicFactory,
    receiver: RunningReceiver,
    spans: InMemorySpanExporter,
) -> None:
    """With `RELAY_TRACING` unset, a record with a `traceparent` makes no span and its POST
    carries no `traceparent` or `tracestate`."""
    topic = await new_topic(1)
    await publish(kafka_bootstrap, topic, [(b"EURUSD", encode(signal("EURUSD", 1)))], TRACE_HEADERS)
    settings = relay_settings(kafka_bootstrap, topic, receiver.url)
    assert settings.tracing == "off"

    async with running_relay(settings):
        await eventually(lambda: receiver.app.ledger.accepted_count == 1, 90, "the delivery")

    (accepted,) = receiver.app.ledger.accepted
    assert "traceparent" not in accepted.headers
    assert "tracestate" not in accepted.headers
    assert spans.get_finished_spans() == ()
