"""The operations port: `/metrics`, `/healthz` (alive) and `/readyz` (ready to deliver).

The port may be reachable by clients that do not play fair, so every connection is bounded:
the whole request head (request line and headers) must arrive within `head_timeout` seconds
(else 408) and within `max_request_line` bytes (else 414), `max_header_bytes` bytes and
`max_header_lines` lines (else 431); the answer must be taken within `write_timeout` seconds
(else the connection is aborted); and at most `max_connections` connections are served at
once (beyond it a new connection is closed at once, unanswered). A misbehaving client costs at
most a debug log line: nothing it sends can raise out of the handler or log a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["OpsServer"]

_log = logging.getLogger("signal_relay.ops")

_HEAD_TIMEOUT = 5.0
_WRITE_TIMEOUT = 10.0
_MAX_CONNECTIONS = 64
_MAX_REQUEST_LINE = 8 * 1024
_MAX_HEADER_BYTES = 16 * 1024
_MAX_HEADER_LINES = 100
# After refusing a request, keep reading (and discarding) what the client still sends for a
# moment, so that closing with unread input does not reset the connection before the client
# has read the refusal.
_LINGER_SECONDS = 1.0
_LINGER_BYTES = 1024 * 1024
_STOP_GRACE_SECONDS = 2.0


class _Refused(Exception):
    """The request head is refused: answer `status` and close."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


class OpsServer:
    """A tiny HTTP/1.0 server: three GET endpoints, nothing else, never blocks the relay."""

    def __init__(
        self,
        *,
        render_metrics: Callable[[], bytes],
        readiness: Callable[[], tuple[bool, str]],
        head_timeout: float = _HEAD_TIMEOUT,
        write_timeout: float = _WRITE_TIMEOUT,
        max_connections: int = _MAX_CONNECTIONS,
        max_request_line: int = _MAX_REQUEST_LINE,
        max_header_bytes: int = _MAX_HEADER_BYTES,
        max_header_lines: int = _MAX_HEADER_LINES,
    ) -> None:
        if min(head_timeout, write_timeout) <= 0:
            raise ValueError("head_timeout and write_timeout must be positive")
        if min(max_connections, max_request_line, max_header_bytes, max_header_lines) < 1:
            raise ValueError("connection and size limits must be at least 1")
        self._render_metrics = render_metrics
        self._readiness = readiness
        self._head_timeout = head_timeout
        self._write_timeout = write_timeout
        self._max_connections = max_connections
        self._max_request_line = max_request_line
        self._max_header_bytes = max_header_bytes
        self._max_header_lines = max_header_lines
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[Any], asyncio.WriteTransport] = {}
        self._refused_connections = 0

    @property
    def active_connections(self) -> int:
        """Connections being served right now (at most `max_connections`)."""
        return len(self._connections)

    @property
    def refused_connections(self) -> int:
        """Connections closed unanswered because `max_connections` were already being served."""
        return self._refused_connections

    async def start(self, host: str, port: int) -> int:
        """Listen on host:port (0 picks a free port); returns the bound port."""
        self._server = await asyncio.start_server(
            self._serve,
            host,
            port,
            # The stream buffers at most about twice this per connection.
            limit=max(self._max_request_line, self._max_header_bytes),
        )
        bound: int = self._server.sockets[0].getsockname()[1]
        _log.info("ops_listening", extra={"fields": {"host": host, "port": bound}})
        return bound

    async def stop(self) -> None:
        """Stop listening and drop the connections still being served."""
        if self._server is not None:
            self._server.close()
            for transport in list(self._connections.values()):
                transport.abort()
            if self._connections:
                await asyncio.wait(list(self._connections), timeout=_STOP_GRACE_SECONDS)
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        transport = writer.transport
        task = asyncio.current_task()
        if task is None or len(self._connections) >= self._max_connections:
            self._refused_connections += 1
            _log.debug("ops_connection_refused", extra={"fields": {"limit": self._max_connections}})
            transport.abort()
            return
        self._connections[task] = transport
        try:
            await self._exchange(reader, writer)
        except Exception as exc:  # a client must never be able to raise out of here
            _log.debug("ops_connection_dropped", extra={"fields": {"error": type(exc).__name__}})
        finally:
            del self._connections[task]
            transport.abort()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(self._head_timeout):
                request_line = await self._read_head(reader)
        except TimeoutError:
            await self._refuse(reader, writer, "408 Request Timeout")
            return
        except _Refused as refused:
            await self._refuse(reader, writer, refused.status)
            return
        status, content_type, body = self._answer(request_line)
        await self._send(writer, status, content_type, body)

    async def _read_head(self, reader: asyncio.StreamReader) -> bytes:
        """The request line, after reading the headers up to the blank line (or end of input)."""
        request_line = await self._read_line(reader, self._max_request_line, "414 URI Too Long")
        header_bytes = 0
        header_lines = 0
        too_large = "431 Request Header Fields Too Large"
        while True:
            line = await self._read_line(reader, self._max_header_bytes, too_large)
            if not line.strip():
                return request_line
            header_bytes += len(line)
            header_lines += 1
            if header_bytes > self._max_header_bytes or header_lines > self._max_header_lines:
                raise _Refused(too_large)

    @staticmethod
    async def _read_line(reader: asyncio.StreamReader, limit: int, status: str) -> bytes:
        """One line of at most `limit` bytes (its ending included); at end of input what is left."""
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as eof:
            line = eof.partial
        except asyncio.LimitOverrunError:
            raise _Refused(status) from None
        if len(line) > limit:
            raise _Refused(status)
        return line

    def _answer(self, request_line: bytes) -> tuple[str, str, bytes]:
        try:
            return self._route(request_line)
        except Exception:
            _log.error("ops_handler_failed", exc_info=True)
            return "500 Internal Server Error", "text/plain", b"internal error\n"

    async def _send(
        self, writer: asyncio.StreamWriter, status: str, content_type: str, body: bytes
    ) -> None:
        """Write the answer and close, all within the write deadline (else the finally aborts)."""
        async with asyncio.timeout(self._write_timeout):
            writer.write(_response_head(status, content_type, len(body)) + body)
            await writer.drain()
            writer.close()
            await writer.wait_closed()

    async def _refuse(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, status: str
    ) -> None:
        """Answer `status` to a request whose head was not read, then close without a reset."""
        _log.debug("ops_request_refused", extra={"fields": {"status": status}})
        body = f"{status.split(' ', 1)[1].lower()}\n".encode()
        async with asyncio.timeout(self._write_timeout):
            writer.write(_response_head(status, "text/plain", len(body)) + body)
            await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(_LINGER_SECONDS):
                discarded = 0
                while discarded < _LINGER_BYTES and (chunk := await reader.read(64 * 1024)):
                    discarded += len(chunk)
        async with asyncio.timeout(self._write_timeout):
            writer.close()
            await writer.wait_closed()

    def _route(self, request_line: bytes) -> tuple[str, str, bytes]:
        parts = request_line.decode("latin-1").split()
        if len(parts) < 2:
            return "400 Bad Request", "text/plain", b"bad request\n"
        method, path = parts[0], parts[1].split("?", 1)[0]
        if method not in {"GET", "HEAD"}:
            return "405 Method Not Allowed", "text/plain", b"method not allowed\n"
        if path == "/metrics":
            return "200 OK", CONTENT_TYPE_LATEST, self._render_metrics()
        if path == "/healthz":
            return "200 OK", "text/plain", b"ok\n"
        if path == "/readyz":
            ready, why = self._readiness()
            if ready:
                return "200 OK", "text/plain", b"ready\n"
            return "503 Service Unavailable", "text/plain", f"not ready: {why}\n".encode()
        return "404 Not Found", "text/plain", b"not found\n"


def _response_head(status: str, content_type: str, length: int) -> bytes:
    return (
        f"HTTP/1.0 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\nConnection: close\r\n\r\n"
    ).encode()
