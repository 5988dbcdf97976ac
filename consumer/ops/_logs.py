"""Structured logs on structlog: one renderer for every logger in the process.

`configure_logging` gives the root logger its only handler, whose
`structlog.stdlib.ProcessorFormatter` renders every record, the relay's and aiokafka's,
uvicorn's and asyncio's alike, as one JSON object per line on stderr (or a readable line with
`LOG_FORMAT=console`). Every line carries `timestamp`, `level`, `logger`, `event`, `service`
and `version`; an exception is one `exception` field, never a multi-line traceback.

The relay logs in either of two styles, rendered alike (context fields as top-level keys):
- stdlib: `_log.info("event", extra={"fields": {...}})`;
- structlog: `relay_logger(name).info("event", key=value)`; the record it hands to stdlib
  logging holds the same `fields`, so tests and other handlers see both styles alike.

Every line carries the context bound where it was logged: what `structlog.contextvars` binds,
and the record being handled (`bind_record`: topic, partition, offset, then signal_id). The
record's context is one context variable set once per record, not four structlog bindings: the
relay binds it for every record, and most records log nothing.

Secrets are masked in every line (`consumer.ops._log_redaction`); aiokafka's repeated lines
(a broker outage) are limited per window, with a count (`consumer.ops._log_repeats`).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Mapping, MutableMapping
from contextvars import ContextVar, Token
from typing import Any, TextIO

import orjson
import structlog

from consumer import __version__
from consumer.ops._log_redaction import Redactor
from consumer.ops._log_repeats import RepeatLimiter

__all__ = [
    "RecordContext",
    "bind_record",
    "configure_logging",
    "identify_record",
    "log_context",
    "relay_logger",
    "unbind_record",
]

SERVICE = "signal-relay"
_RELAY_LOGGER = "signal_relay"
# Libraries whose INFO/DEBUG chatter is never wanted; their warnings and errors always are.
_QUIETED = ("aiokafka", "httpx", "httpcore", "uvicorn")
_LOG_KWARGS = ("exc_info", "stack_info", "stacklevel")
_CONTEXT_ORDER = {"topic": 0, "partition": 1, "offset": 2, "signal_id": 3}

_installed: logging.Handler | None = None


def configure_logging(
    level: str = "INFO",
    fmt: str = "json",
    *,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> None:
    """Render every logger's records on `stream` (stderr), one per line, in `fmt`.

    `fmt` is "json" or "console"; `secrets` are masked wherever they appear (see
    `consumer.ops._log_redaction.secrets_in`). Calling it again replaces the handler it
    installed before; other handlers on the root logger (a test's capture) are left alone.
    """
    global _installed  # noqa: PLW0603 - the one handler of the process
    handler = _LineHandler(stream, RepeatLimiter())
    handler.setFormatter(_formatter(fmt, Redactor(secrets)))
    root = logging.getLogger()
    if _installed is not None:
        root.removeHandler(_installed)
        _installed.close()
    root.addHandler(handler)
    _installed = handler
    root.setLevel(level)
    relay = logging.getLogger(_RELAY_LOGGER)
    relay.setLevel(logging.NOTSET)
    relay.propagate = True
    for quieted in _QUIETED:
        logging.getLogger(quieted).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def relay_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structlog logger over stdlib logger `name` that carries the bound context."""
    return structlog.stdlib.BoundLogger(
        logging.getLogger(name),
        [structlog.stdlib.filter_by_level, _with_context, _as_fields],
        {},
    )


class RecordContext:
    """Where the record being handled is: what its log lines carry."""

    __slots__ = ("offset", "partition", "signal_id", "topic")

    def __init__(self, topic: str, partition: int, offset: int) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.signal_id: str | None = None  # once the record has one


_record: ContextVar[RecordContext | None] = ContextVar("signal_relay_record", default=None)


def bind_record(context: RecordContext) -> Token[RecordContext | None]:
    """Log the lines of this task (and of the tasks it starts) with `context`, as it changes."""
    return _record.set(context)


def identify_record(signal_id: str) -> None:
    """Add the signal_id to the bound record's context (nothing when no record is bound)."""
    context = _record.get()
    if context is not None:
        context.signal_id = signal_id


def unbind_record(token: Token[RecordContext | None]) -> None:
    """Restore the context `bind_record` replaced."""
    _record.reset(token)


def log_context() -> dict[str, Any]:
    """The context a line logged here carries, known values only, in reading order."""
    bound = structlog.contextvars.get_contextvars()
    record = _record.get()
    if record is not None:  # the record's place wins over an outer binding of the same key
        bound.update(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            signal_id=record.signal_id,
        )
    keys = sorted(bound, key=lambda key: _CONTEXT_ORDER.get(key, len(_CONTEXT_ORDER)))
    return {key: bound[key] for key in keys if bound[key] is not None}


def _with_context(_: Any, __: str, event: MutableMapping[str, Any]) -> dict[str, Any]:
    """The bound context, then the event's own keys (which win)."""
    return {**log_context(), **event}


def _as_fields(
    _: Any, __: str, event: MutableMapping[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Hand a structlog event to stdlib logging the way the stdlib style does: `fields`."""
    kwargs: dict[str, Any] = {key: event.pop(key) for key in _LOG_KWARGS if key in event}
    message = event.pop("event")
    kwargs["extra"] = {"fields": dict(event)}
    return (message,), kwargs


def _formatter(fmt: str, redactor: Redactor) -> structlog.stdlib.ProcessorFormatter:
    renderer: structlog.types.Processor
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(
            colors=False, sort_keys=False, exception_formatter=structlog.dev.plain_traceback
        )
    else:
        renderer = structlog.processors.JSONRenderer(serializer=_json_line)
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[_event_of_record],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redactor,
            renderer,
        ],
    )


def _event_of_record(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The line's keys in reading order: when, how bad, who, what, then the context."""
    record: logging.LogRecord = event["_record"]
    line: dict[str, Any] = {
        "timestamp": _iso(record.created),
        "level": record.levelname.lower(),
        "logger": record.name,
        "event": event.pop("event"),
        "service": SERVICE,
        "version": __version__,
    }
    fields = getattr(record, "fields", None)
    context = {**log_context(), **(fields if isinstance(fields, Mapping) else {}), **event}
    for key, value in context.items():
        line.setdefault(key, value)
    return line


def _iso(created: float) -> str:
    millis = int(created * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{millis:03d}Z"


def _json_line(event: Mapping[str, Any], **_: Any) -> str:
    return orjson.dumps(event, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


class _LineHandler(logging.StreamHandler[TextIO]):
    """Writes formatted lines to a stream (stderr as it is at each line, by default), with
    aiokafka's repeated lines limited."""

    def __init__(self, stream: TextIO | None, limiter: RepeatLimiter) -> None:
        super().__init__(stream or sys.stderr)
        self._follow_stderr = stream is None
        self._limiter = limiter

    def handle(self, record: logging.LogRecord) -> bool:
        handled = False
        for line in self._limiter.admit(record):
            handled = bool(super().handle(line)) or handled
        return handled

    def emit(self, record: logging.LogRecord) -> None:
        if self._follow_stderr:
            self.stream = sys.stderr
        super().emit(record)

    def close(self) -> None:
        for summary in self._limiter.flush():
            super().handle(summary)
        super().close()
