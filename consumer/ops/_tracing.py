"""Whether the relay traces, and the narrow seam the record flow traces through.

`RELAY_TRACING=off` (the default) gives `NO_TRACING`: its context managers and its empty header
map are shared constants, and nothing imports OpenTelemetry. `console` or `otlp` loads
`consumer/ops/_tracing_otel.py`, which creates the spans with the OpenTelemetry API; the
SDK and its exporter are installed by `configure_tracing`, once per process, by
`signal-relay run` (a program embedding `Relay` installs its own tracer provider instead).

The flow calls three things: `record(...)` around a record's whole handling, `identify(...)`
once the signal id is known, and `attempt(...)` around each POST, whose `headers()` are the
W3C `traceparent`/`tracestate` the request carries besides its signed headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from types import MappingProxyType, TracebackType
from typing import Literal, Protocol

from aiokafka.structs import ConsumerRecord

__all__ = [
    "NO_TRACE_HEADERS",
    "NO_TRACING",
    "AttemptTrace",
    "RecordTrace",
    "Tracing",
    "TracingMode",
    "configure_tracing",
    "tracing_for",
]

TracingMode = Literal["off", "console", "otlp"]
NO_TRACE_HEADERS: Mapping[str, str] = MappingProxyType({})
"""The extra request headers of an untraced attempt: none."""


class RecordTrace(Protocol):
    """The span of one record, open while the flow handles it."""

    def finished(self, final: str) -> None:
        """Record the final outcome (`Final.value`) before the span ends."""
        ...


class AttemptTrace(Protocol):
    """The span of one attempt (one POST), a child of its record's span."""

    def headers(self) -> Mapping[str, str]:
        """The `traceparent` (and `tracestate`) naming this attempt, for the POST."""
        ...

    def answered(
        self, status: int | None, outcome: str, duration: float, error: str | None
    ) -> None:
        """Record what the attempt got: HTTP status (None: no answer) and its outcome."""
        ...


class Tracing(Protocol):
    """What the record flow calls; `NO_TRACING` when tracing is off."""

    def record(self, record: ConsumerRecord[bytes, bytes]) -> AbstractContextManager[RecordTrace]:
        """A span for `record`, a child of the `traceparent` in its headers if it has one."""
        ...

    def identify(self, signal_id: str) -> None:
        """Name the current record span's signal."""
        ...

    def attempt(self, number: int) -> AbstractContextManager[AttemptTrace]:
        """A span for attempt `number` (1-based) of the current record."""
        ...


class _Untraced:
    """Every span of `NO_TRACING`: one shared object that records nothing."""

    __slots__ = ()

    def __enter__(self) -> _Untraced:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None

    def finished(self, final: str) -> None:
        return None

    def headers(self) -> Mapping[str, str]:
        return NO_TRACE_HEADERS

    def answered(
        self, status: int | None, outcome: str, duration: float, error: str | None
    ) -> None:
        return None


class _NoTracing:
    __slots__ = ()
    _UNTRACED = _Untraced()

    def record(self, record: ConsumerRecord[bytes, bytes]) -> _Untraced:
        return self._UNTRACED

    def identify(self, signal_id: str) -> None:
        return None

    def attempt(self, number: int) -> _Untraced:
        return self._UNTRACED


NO_TRACING: Tracing = _NoTracing()
"""Tracing off: no spans, no headers, no OpenTelemetry import."""


def tracing_for(mode: TracingMode) -> Tracing:
    """The relay's tracing for `RELAY_TRACING`: spans through the global tracer provider."""
    if mode == "off":
        return NO_TRACING
    from consumer.ops._tracing_otel import OtelTracing  # noqa: PLC0415 - only when on

    return OtelTracing()


def configure_tracing(mode: TracingMode) -> None:
    """Install the OpenTelemetry SDK with the `mode` exporter as the global tracer provider.

    Nothing when `off`. The SDK honours the standard `OTEL_*` variables (service name, resource
    attributes, sampler, OTLP endpoint and headers, batch sizes); see the README.
    """
    if mode == "off":
        return
    from consumer.ops._tracing_otel import install_sdk  # noqa: PLC0415 - only when on

    install_sdk(mode)
