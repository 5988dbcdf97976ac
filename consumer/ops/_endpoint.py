"""The operations port, on asyncio streams: each connection admitted, bounded, answered once.

The port may be reachable by clients that do not play fair, so every connection answers once
(`Connection: close`, no keep-alive) and is bounded:

- its request head must arrive within `head_timeout` seconds of connecting (else 408), within
  the size bounds `_request_head` keeps (else 400, as is a head that is not HTTP/1.x);
- a handler gets `handler_timeout` seconds (else 504, `_routes`), and the whole answer must be
  taken within `write_timeout` seconds (else the connection is aborted);
- at most `max_connections` connections are served at once; beyond it a new connection is
  closed at once, unanswered.

Every answer, refusals included, is followed by shutting the sending side and reading and
discarding the client's input until its EOF, for a moment at most: closing with unread input
resets the connection, which can destroy the answer before the client has read it. A client may
shut its sending side once its request is in (HTTP/1.0 style) and still read the answer.

A misbehaving client costs at most a debug log line; ERROR is logged only when a handler itself
fails. What each path and method is answered, and the thread metrics are rendered on, are
`_routes`' to say.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus

from consumer.ops._request_head import HeadLimits, HeadRefused, read_head
from consumer.ops._routes import Answer, MetricsRenderer, Routes

__all__ = ["MetricsRenderer", "OpsServer"]

_log = logging.getLogger("signal_relay.ops")

_HEAD_TIMEOUT = 5.0
_HANDLER_TIMEOUT = 5.0
_WRITE_TIMEOUT = 10.0
_MAX_CONNECTIONS = 64
_MAX_REQUEST_LINE = 8 * 1024
_MAX_HEADER_BYTES = 16 * 1024
_MAX_HEADER_LINES = 100
_LINGER_SECONDS = 1.0
_DISCARD_CHUNK = 64 * 1024
_STOP_GRACE_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class _Deadlines:
    """How long the client may take over each step of its connection.

    Attributes:
        head: Seconds from connecting to a complete request head.
        write: Seconds to take the whole answer.
    """

    head: float
    write: float


class _Admission:
    """The connections being served, at most `cap` of them; counts those turned away."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.connections: set[asyncio.Task[None]] = set()
        self.refused = 0
        self.all_closed = asyncio.Event()
        self.all_closed.set()

    def admit(self, connection: asyncio.Task[None]) -> bool:
        """Count `connection` in, unless `cap` connections are already being served."""
        if len(self.connections) >= self.cap:
            self.refused += 1
            _log.debug("ops_connection_refused", extra={"fields": {"limit": self.cap}})
            return False
        self.connections.add(connection)
        self.all_closed.clear()
        return True

    def release(self, connection: asyncio.Task[None]) -> None:
        """`connection` is closed: its slot is free."""
        self.connections.discard(connection)
        if not self.connections:
            self.all_closed.set()


class OpsServer:
    """`/metrics`, `/healthz` and `/readyz`; no client of the port can slow the relay down."""

    def __init__(
        self,
        *,
        render_metrics: MetricsRenderer,
        readiness: Callable[[], tuple[bool, str]],
        head_timeout: float = _HEAD_TIMEOUT,
        handler_timeout: float = _HANDLER_TIMEOUT,
        write_timeout: float = _WRITE_TIMEOUT,
        max_connections: int = _MAX_CONNECTIONS,
        max_request_line: int = _MAX_REQUEST_LINE,
        max_header_bytes: int = _MAX_HEADER_BYTES,
        max_header_lines: int = _MAX_HEADER_LINES,
    ) -> None:
        if min(head_timeout, handler_timeout, write_timeout) <= 0:
            raise ValueError("head_timeout, handler_timeout and write_timeout must be positive")
        if min(max_connections, max_request_line, max_header_bytes, max_header_lines) < 1:
            raise ValueError("connection and size limits must be at least 1")
        self._deadlines = _Deadlines(head=head_timeout, write=write_timeout)
        self._head_limits = HeadLimits(max_request_line, max_header_bytes, max_header_lines)
        self._admission = _Admission(max_connections)
        self._routes = Routes(
            render_metrics=render_metrics, readiness=readiness, handler_timeout=handler_timeout
        )
        self._listener: asyncio.Server | None = None

    @property
    def active_connections(self) -> int:
        """Connections being served right now (at most `max_connections`)."""
        return len(self._admission.connections)

    @property
    def refused_connections(self) -> int:
        """Connections closed unanswered because `max_connections` were already being served."""
        return self._admission.refused

    async def start(self, host: str, port: int) -> int:
        """Listen on host:port (0 picks a free port); returns the bound port."""
        self._listener = await asyncio.start_server(
            self._serve, host, port, limit=self._head_limits.stream_limit
        )
        bound: int = self._listener.sockets[0].getsockname()[1]
        _log.info("ops_listening", extra={"fields": {"host": host, "port": bound}})
        return bound

    async def stop(self) -> None:
        """Stop listening and drop the connections still being served."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for connection in list(self._admission.connections):
            connection.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._admission.all_closed.wait(), _STOP_GRACE_SECONDS)
        self._routes.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One connection, admitted or closed at once: its head, one answer, then the close."""
        connected = asyncio.get_running_loop().time()
        connection = asyncio.current_task()
        assert connection is not None  # a stream server runs each connection as a task
        if not self._admission.admit(connection):
            writer.transport.abort()
            return
        try:
            # drain() then returns only once the whole answer is taken, not merely most of it.
            writer.transport.set_write_buffer_limits(high=0)
            answer = await self._answer(reader, connected + self._deadlines.head)
            if answer is not None and await self._send(writer, answer):
                await _discard_input(reader)
        except asyncio.CancelledError:
            # stop() dropped the connection. Ending it as a return, not a cancellation: the
            # stream server of Python 3.11.7 calls `exception()` on a finished connection task,
            # which raises for a cancelled one and logs it as an ERROR.
            pass
        finally:
            # The answer is flushed by now, or abandoned: only what the client sent is dropped.
            writer.transport.abort()
            self._admission.release(connection)

    async def _answer(self, reader: asyncio.StreamReader, head_deadline: float) -> bytes | None:
        """The answer to the connection's request; None when the client left before its head."""
        try:
            async with asyncio.timeout_at(head_deadline):
                head = await read_head(reader, self._head_limits)
        except TimeoutError:
            return _refusal(HTTPStatus.REQUEST_TIMEOUT, "the head was not in before its deadline")
        except HeadRefused as exc:
            return _refusal(HTTPStatus.BAD_REQUEST, str(exc))
        if head is None:
            return None
        answer = await self._routes.answer(head)
        return answer.encode(head.http_version, with_body=head.method != "HEAD")

    async def _send(self, writer: asyncio.StreamWriter, answer: bytes) -> bool:
        """Write `answer` and shut the sending side; False if it was not taken in time."""
        writer.write(answer)
        try:
            async with asyncio.timeout(self._deadlines.write):
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (TimeoutError, OSError) as exc:  # not taken in time, or the client left
            _log.debug("ops_answer_abandoned", extra={"fields": {"error": type(exc).__name__}})
            return False
        return True


async def _discard_input(reader: asyncio.StreamReader) -> None:
    """Read and drop what the client still sends, until its EOF or `_LINGER_SECONDS`."""
    with contextlib.suppress(TimeoutError, OSError):
        async with asyncio.timeout(_LINGER_SECONDS):
            while await reader.read(_DISCARD_CHUNK):
                pass


def _refusal(status: HTTPStatus, why: str) -> bytes:
    """The answer to a head not served (its HTTP version may be unknown: 1.0)."""
    _log.debug("ops_request_refused", extra={"fields": {"status": int(status), "why": why}})
    return Answer.plain(status).encode()
