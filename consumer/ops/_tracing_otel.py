"""The relay's spans, with the OpenTelemetry API; loaded only when `RELAY_TRACING` is on.

Not re-exported by `consumer.ops`: importing the package must not import OpenTelemetry.

A record's span (`signal_relay.record`, kind CONSUMER) is a child of the W3C `traceparent`
found in the record's Kafka headers (a root span when there is none, or it is malformed), so
the publisher's trace shows the relay's work on its signal and, through the POST's
`traceparent`, the signal server's. One record is one processing span, so the publisher's
context is its parent rather than a link (links serve spans that process many messages).
Each POST is a child span (`signal_relay.attempt`, kind CLIENT), and its context is what the
request's `traceparent`/`tracestate` headers carry. Only the API is used here; the SDK and an
exporter come from `install_sdk` (or from the program embedding the relay).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from aiokafka.structs import ConsumerRecord
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes

from consumer import __version__
from consumer.ops._tracing import TracingMode

__all__ = ["OtelTracing", "install_sdk"]

RECORD_SPAN = "signal_relay.record"
ATTEMPT_SPAN = "signal_relay.attempt"
_PROPAGATOR = TraceContextTextMapPropagator()
_CARRIED = frozenset(_PROPAGATOR.fields)  # traceparent, tracestate
_SUCCESS = frozenset({"delivered", "duplicate"})
_FAILED_FINALS = frozenset({"dead_lettered", "dry_run_dead_letter"})


class _RecordSpan:
    __slots__ = ("_span",)

    def __init__(self, span: Span) -> None:
        self._span = span

    def finished(self, final: str) -> None:
        self._span.set_attribute("signal_relay.outcome", final)
        if final in _FAILED_FINALS:
            self._span.set_status(Status(StatusCode.ERROR, final))


class _AttemptSpan:
    __slots__ = ("_span",)

    def __init__(self, span: Span) -> None:
        self._span = span

    def headers(self) -> dict[str, str]:
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(self._span))
        return carrier

    def answered(
        self, status: int | None, outcome: str, duration: float, error: str | None
    ) -> None:
        span = self._span
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        span.set_attribute("signal_relay.outcome", outcome)
        span.set_attribute("signal_relay.request_duration_ms", round(duration * 1000, 3))
        if error is not None:
            span.set_attribute("error.type", error.partition(":")[0])
        if outcome not in _SUCCESS:
            span.set_status(Status(StatusCode.ERROR, error or f"HTTP {status}"))


class OtelTracing:
    """Spans through a tracer of `provider` (the global tracer provider by default)."""

    def __init__(self, provider: trace.TracerProvider | None = None) -> None:
        self._tracer = trace.get_tracer("signal_relay", __version__, tracer_provider=provider)

    @contextmanager
    def record(self, record: ConsumerRecord[bytes, bytes]) -> Iterator[_RecordSpan]:
        """The record's span, current while the flow handles it."""
        attributes: Attributes = {
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": record.topic,
            "messaging.destination.partition.id": str(record.partition),
            "messaging.kafka.offset": record.offset,
        }
        with self._tracer.start_as_current_span(
            RECORD_SPAN,
            context=_PROPAGATOR.extract(_carrier(record.headers)),
            kind=SpanKind.CONSUMER,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield _RecordSpan(span)
            except BaseException as exc:
                # Released mid-flight or stopped: not an error, the record's next owner has it.
                span.set_attribute("signal_relay.outcome", "unfinished")
                span.set_attribute("error.type", type(exc).__name__)
                raise

    def identify(self, signal_id: str) -> None:
        """Name the current record span's signal."""
        trace.get_current_span().set_attribute("signal_relay.signal_id", signal_id)

    @contextmanager
    def attempt(self, number: int) -> Iterator[_AttemptSpan]:
        """The span of attempt `number`, a child of the current record span."""
        attributes: Attributes = {"signal_relay.attempt": number, "http.request.method": "POST"}
        with self._tracer.start_as_current_span(
            ATTEMPT_SPAN, kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            yield _AttemptSpan(span)


def _carrier(headers: Sequence[tuple[str, bytes | None]]) -> Mapping[str, str]:
    """The record's W3C trace-context headers (names lower-cased), as text."""
    return {
        name.lower(): value.decode("latin-1")
        for name, value in headers
        if value is not None and name.lower() in _CARRIED
    }


def install_sdk(mode: TracingMode) -> None:
    """Make an SDK tracer provider exporting to `mode` (`console`/`otlp`) the global one.

    Spans leave in batches from a background thread (`OTEL_BSP_*`); the provider flushes them
    when the process exits. `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES` name the service
    (`signal-relay` when neither does), `OTEL_TRACES_SAMPLER` samples, and the OTLP exporter
    (HTTP/protobuf) reads `OTEL_EXPORTER_OTLP_*` (endpoint, headers, certificates, timeout).
    """
    from opentelemetry.sdk.resources import Resource  # noqa: PLC0415 - SDK only when installing
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import (  # noqa: PLC0415
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SpanExporter,
    )

    resource = Resource.create()
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": "signal-relay"}))
    exporter: SpanExporter
    if mode == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,
        )

        exporter = OTLPSpanExporter()
    else:
        exporter = ConsoleSpanExporter()
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
