"""The operations port on aiohttp.web: `/metrics`, `/healthz` (alive) and `/readyz` (ready).

The port may be reachable by clients that do not play fair, so every connection answers once
(`Connection: close`, no keep-alive) and is bounded:

- its request head must arrive within `head_timeout` seconds of connecting (else 408), with a
  request line of at most `max_request_line` bytes, header fields of at most `max_header_bytes`
  bytes each, at most `max_header_lines` headers, and at most `max_request_line +
  max_header_bytes` bytes sent before it is served (else 400, aiohttp's answer to a head over
  a limit);
- a handler gets `handler_timeout` seconds (else 504), and the answer must be taken within
  `write_timeout` seconds (else the connection is aborted);
- at most `max_connections` connections are served at once; beyond it a new connection is
  closed at once, unanswered.

A refused head is answered, the sending side shut and the client's input read and discarded
for a moment, so that closing does not reset the connection before the client has read the
refusal. A misbehaving client costs at most a debug log line: aiohttp's access log is off, and
its error reporting is replaced by ours, which logs ERROR only when a handler itself fails.
Metrics are rendered on a thread of their own, so a scrape never holds the event loop. A client
may shut its sending side once its request is in (HTTP/1.0 style) and still read the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol, cast

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from consumer.ops._metrics import Exposition

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
_STOP_GRACE_SECONDS = 2.0


class MetricsRenderer(Protocol):
    """Renders the metrics in the format an `Accept` header asks for (empty: the default).

    It is called on the ops server's own worker thread, so it may read only thread-safe state
    (prometheus_client's metric values are; so are `_loop_metrics`' families, written by the
    event loop alone and copied before they are written out).
    """

    def __call__(self, accept: str, /) -> Exposition: ...


@dataclass(frozen=True, slots=True)
class _Limits:
    """The bounds every connection of the ops port is held to.

    Attributes:
        head_timeout: Seconds from connecting to a complete request head.
        handler_timeout: Seconds a handler may take to produce its answer.
        write_timeout: Seconds the client has to take the answer.
        max_request_line: Bytes of the request line.
        max_header_bytes: Bytes of one header line.
        max_header_lines: Header lines of one request.
    """

    head_timeout: float
    handler_timeout: float
    write_timeout: float
    max_request_line: int
    max_header_bytes: int
    max_header_lines: int

    @property
    def max_head_bytes(self) -> int:
        """Bytes a connection may send before its request is served."""
        return self.max_request_line + self.max_header_bytes


class _Admission:
    """The connections being served, at most `cap` of them; counts those turned away."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.connections: set[_Connection] = set()
        self.refused = 0
        self.all_closed = asyncio.Event()
        self.all_closed.set()

    def admit(self, connection: _Connection) -> bool:
        """Count `connection` in, unless `cap` connections are already being served."""
        if len(self.connections) >= self.cap:
            self.refused += 1
            _log.debug("ops_connection_refused", extra={"fields": {"limit": self.cap}})
            return False
        self.connections.add(connection)
        self.all_closed.clear()
        return True

    def release(self, connection: _Connection) -> None:
        """`connection` is closed: its slot is free."""
        self.connections.discard(connection)
        if not self.connections:
            self.all_closed.set()


class OpsServer:
    """Three GET endpoints on aiohttp.web; no client of the port can slow the relay down."""

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
        self._render_metrics = render_metrics
        self._readiness = readiness
        self._limits = _Limits(
            head_timeout=head_timeout,
            handler_timeout=handler_timeout,
            write_timeout=write_timeout,
            max_request_line=max_request_line,
            max_header_bytes=max_header_bytes,
            max_header_lines=max_header_lines,
        )
        self._admission = _Admission(max_connections)
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self._renderer: ThreadPoolExecutor | None = None

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
        app = web.Application(middlewares=[self._answer_within_bounds])
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        runner = web.AppRunner(
            app,
            handler_cancellation=True,
            access_log=None,
            shutdown_timeout=_STOP_GRACE_SECONDS,
        )
        await runner.setup()
        self._runner = runner
        self._renderer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ops-metrics")
        loop = asyncio.get_running_loop()
        # Not `web.TCPSite`: it serves aiohttp's own connection protocol, which has neither the
        # connection cap nor the head deadline; `_Connection` is that protocol with both.
        manager = runner.server
        assert manager is not None  # set up just above
        connection = functools.partial(
            _Connection,
            manager,
            admission=self._admission,
            limits=self._limits,
            loop=loop,
            access_log=None,
            keepalive_timeout=0,
            lingering_time=_LINGER_SECONDS,
            max_line_size=self._limits.max_request_line,
            max_field_size=self._limits.max_header_bytes,
            max_headers=self._limits.max_header_lines,
        )
        try:
            self._listener = await loop.create_server(connection, host, port)
        except BaseException:  # e.g. the port is in use: leave nothing running behind
            await self.stop()
            raise
        bound: int = self._listener.sockets[0].getsockname()[1]
        _log.info("ops_listening", extra={"fields": {"host": host, "port": bound}})
        return bound

    async def stop(self) -> None:
        """Stop listening and drop the connections still being served."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for connection in list(self._admission.connections):
            connection.drop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._admission.all_closed.wait(), _STOP_GRACE_SECONDS)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._renderer is not None:
            self._renderer.shutdown(wait=False, cancel_futures=True)
            self._renderer = None

    @web.middleware
    async def _answer_within_bounds(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        """Run the handler under its deadline, then send its answer under the write deadline."""
        cast(_Connection, request.protocol).head_complete()
        try:
            async with asyncio.timeout(self._limits.handler_timeout):
                response: web.StreamResponse = await handler(request)
        except web.HTTPException as exc:  # the router's 404 and 405
            response = _plain(exc.status, f"{exc.reason.lower()}\n")
            if "Allow" in exc.headers:
                response.headers["Allow"] = exc.headers["Allow"]
        response.force_close()
        try:
            async with asyncio.timeout(self._limits.write_timeout):
                await response.prepare(request)
                await response.write_eof()
        except (TimeoutError, ConnectionError) as exc:  # not taken in time, or the client left
            _log.debug(
                "ops_answer_abandoned",
                extra={"fields": {"path": request.path, "error": type(exc).__name__}},
            )
            if request.transport is not None:
                request.transport.abort()
        return response

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        accept = request.headers.get("Accept", "")
        loop = asyncio.get_running_loop()
        exposition = await loop.run_in_executor(self._renderer, self._render_metrics, accept)
        return web.Response(body=exposition.body, headers={"Content-Type": exposition.content_type})

    async def _healthz(self, _: web.Request) -> web.StreamResponse:
        return _plain(200, "ok\n")

    async def _readyz(self, _: web.Request) -> web.StreamResponse:
        ready, why = self._readiness()
        if ready:
            return _plain(200, "ready\n")
        return _plain(503, f"not ready: {why}\n")


class _Connection(web.RequestHandler):
    """aiohttp's connection protocol, admitted by the ops server and held to its head bounds."""

    def __init__(
        self,
        manager: web.Server,
        *,
        admission: _Admission,
        limits: _Limits,
        loop: asyncio.AbstractEventLoop,
        **kw: Any,
    ) -> None:
        super().__init__(manager, loop=loop, **kw)
        self._admission = admission
        self._limits = limits
        self._event_loop = loop
        self._admitted = False
        self._head_bytes = 0
        self._head_tail = b""
        self._head_sent = False
        self._head_deadline: asyncio.TimerHandle | None = None
        self._refused: asyncio.Transport | None = None
        self._linger: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._admission.admit(self):
            cast(asyncio.Transport, transport).abort()
            return
        self._admitted = True
        super().connection_made(transport)
        self._head_deadline = self._event_loop.call_later(
            self._limits.head_timeout, self._refuse, HTTPStatus.REQUEST_TIMEOUT
        )

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self._admitted:
            return
        self.head_complete()
        if self._linger is not None:
            self._linger.cancel()
        self._admission.release(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused is not None:
            return  # the refusal is lingering: discard what the client still sends
        if self._head_deadline is not None:
            self._head_bytes += len(data)
            if self._head_bytes > self._limits.max_head_bytes:
                self._refuse(HTTPStatus.BAD_REQUEST)
                return
            window = self._head_tail + data
            self._head_sent |= b"\r\n\r\n" in window or b"\n\n" in window
            self._head_tail = window[-3:]
        super().data_received(data)

    # aiohttp declares `-> None` (always close); asyncio's protocol allows `bool | None`.
    def eof_received(self) -> bool:  # type: ignore[override]
        """Keep the connection open for the answer if the client's request is in.

        HTTP/1.0 clients may send their request and shut their side before reading. A head
        without its blank line can never complete, and a lingering refusal waits for exactly
        this EOF: those connections close.
        """
        request_in = self._head_deadline is None or self._head_sent
        return self._refused is None and request_in

    def head_complete(self) -> None:
        """The request head is in: its deadline and byte budget no longer apply."""
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def drop(self) -> None:
        """Abort the connection, whatever it is doing."""
        transport = self._refused or self.transport
        if transport is not None:
            transport.abort()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """aiohttp's error answer, without its ERROR log line unless a handler itself failed."""
        if isinstance(exc, HttpProcessingError):  # a head over a limit, or not HTTP at all
            self._refuse(HTTPStatus(status))
            return web.Response(status=status)  # unsent: the refusal owns the connection
        if isinstance(exc, ConnectionError):  # the client left while being answered
            _log.debug("ops_answer_abandoned", extra={"fields": {"error": type(exc).__name__}})
        elif status == HTTPStatus.INTERNAL_SERVER_ERROR:
            _log.error("ops_handler_failed", exc_info=exc)
        else:
            _log.debug("ops_handler_gave_up", extra={"fields": {"status": status}})
        response = _plain(status, f"{HTTPStatus(status).phrase.lower()}\n")
        response.force_close()
        return response

    def _refuse(self, status: HTTPStatus) -> None:
        """Answer `status` to a head not served, then discard input until EOF or the linger ends."""
        transport = self.transport
        if transport is None or self._refused is not None:
            return
        self.head_complete()
        _log.debug("ops_request_refused", extra={"fields": {"status": int(status)}})
        # From here aiohttp neither writes to nor closes this connection; its task ends.
        self._refused = transport
        self.transport = None
        self.close()
        self._refused.write(_refusal(status))
        if self._refused.can_write_eof():
            self._refused.write_eof()
        # The client's EOF closes the transport (`eof_received` keeps it open for no one).
        self._linger = self._event_loop.call_later(_LINGER_SECONDS, self._end_linger)

    def _end_linger(self) -> None:
        if self._refused is not None:
            if self._refused.get_write_buffer_size():
                self._refused.abort()
            else:
                self._refused.close()


def _plain(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/plain")


def _refusal(status: HTTPStatus) -> bytes:
    body = f"{status.phrase.lower()}\n".encode()
    head = (
        f"HTTP/1.0 {status.value} {status.phrase}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body
