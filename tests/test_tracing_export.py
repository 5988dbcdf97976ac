"""`signal-relay run` with tracing on exports its spans: OTLP/HTTP to a collector, or stdout."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import RunningReceiver, TopicFactory, eventually
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans
from relay_harness import encode, publish, relay_env, relay_process
from relay_harness import signal as candidate

TRACE_ID = "5bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-10f067aa0ba902b7-01".encode()


class Collector(ThreadingHTTPServer):
    """An OTLP/HTTP trace collector on loopback: keeps every export request it receives."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _CollectorHandler)
        self.exports: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []

    @property
    def endpoint(self) -> str:
        """The traces endpoint URL."""
        return f"http://127.0.0.1:{self.server_address[1]}/v1/traces"

    def resource_spans(self) -> list[ResourceSpans]:
        """Every `ResourceSpans` received so far."""
        return [each for export in list(self.exports) for each in export.resource_spans]

    def span_names(self) -> list[str]:
        """The names of every span received so far."""
        return [
            span.name
            for resource in self.resource_spans()
            for scope in resource.scope_spans
            for span in scope.spans
        ]


class _CollectorHandler(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.server.paths.append(self.path)
        self.server.exports.append(request)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def collector() -> Iterator[Collector]:
    """A collector serving on its own thread for the test's duration."""
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


async def test_otlp_exports_the_record_and_attempt_spans(
    kafka_bootstrap: str,
    new_topic: TopicFactory,
    receiver: RunningReceiver,
    collector: Collector,
    tmp_path: Path,
) -> None:
    """`RELAY_TRACING=otlp`: the spans reach the OTLP endpoint in the publisher's trace, from
    the service `signal-relay`, and the POST carried the attempt's context."""
    topic = await new_topic(1)
    await publish(
        kafka_bootstrap,
        topic,
        [(b"EURUSD", encode(candidate("EURUSD", 1)))],
        [("traceparent", TRACEPARENT)],
    )
    env = relay_env(
        kafka_bootstrap,
        topic,
        receiver.url,
        RELAY_TRACING="otlp",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=collector.endpoint,
        OTEL_BSP_SCHEDULE_DELAY=50,
    )
    with relay_process(env, tmp_path / "relay.log") as relay:
        ledger = receiver.app.ledger
        assert await asyncio.to_thread(ledger.wait_until, lambda led: led.accepted_count == 1, 90)
        await eventually(
            lambda: "signal_relay.record" in collector.span_names(), 60, "the exported spans"
        )
        relay.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(relay.wait, 30) == 0

    assert set(collector.paths) == {"/v1/traces"}
    spans = {
        span.name: span
        for resource in collector.resource_spans()
        for scope in resource.scope_spans
        for span in scope.spans
    }
    assert set(spans) == {"signal_relay.record", "signal_relay.attempt"}
    (resource,) = {
        attribute.value.string_value
        for each in collector.resource_spans()
        for attribute in each.resource.attributes
        if attribute.key == "service.name"
    }
    assert resource == "signal-relay"
    record, attempt = spans["signal_relay.record"], spans["signal_relay.attempt"]
    assert record.trace_id.hex() == TRACE_ID
    assert attempt.parent_span_id == record.span_id
    (accepted,) = receiver.app.ledger.accepted
    assert accepted.headers["traceparent"] == f"00-{TRACE_ID}-{attempt.span_id.hex()}-01"


async def test_console_prints_the_spans(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver, tmp_path: Path
) -> None:
    """`RELAY_TRACING=console`: the spans are printed when the relay stops."""
    topic = await new_topic(1)
    await publish(
        kafka_bootstrap,
        topic,
        [(b"EURUSD", encode(candidate("EURUSD", 1)))],
        [("traceparent", TRACEPARENT)],
    )
    env = relay_env(kafka_bootstrap, topic, receiver.url, RELAY_TRACING="console")
    log = tmp_path / "relay.log"
    with relay_process(env, log) as relay:
        ledger = receiver.app.ledger
        assert await asyncio.to_thread(ledger.wait_until, lambda led: led.accepted_count == 1, 90)
        relay.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(relay.wait, 30) == 0

    printed = log.read_text()
    assert '"name": "signal_relay.record"' in printed
    assert '"name": "signal_relay.attempt"' in printed
    assert f'"trace_id": "0x{TRACE_ID}"' in printed
