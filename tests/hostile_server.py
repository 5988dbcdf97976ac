"""A misbehaving HTTP/1.1 server on raw asyncio streams, for testing the relay's HTTP client.

It is deliberately not the project's receiver: it reads each request fully (Content-Length),
records it, and answers whatever the current `Behaviour` scripts: any status line, absurd
headers, huge / endless / compressed-bomb bodies, slow answers, resets, half responses.

It runs its own event loop in a background thread on 127.0.0.1 (port 0 = any free port), so a
slow or huge answer never competes with the relay's loop for scheduling. Its own memory stays
bounded: bodies are generated lazily, recorded requests keep at most 64 KiB of body each and
the log keeps the last 10,000 requests (counters keep counting).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import zlib
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from threaded_server import server_thread

__all__ = [
    "Answer",
    "Behaviour",
    "HostileServer",
    "Received",
    "always",
    "answer",
    "close_after_request",
    "endless_chunked",
    "garbage_status",
    "gzip_bomb",
    "half_response",
    "hostile_server",
    "huge_body",
    "info_only",
    "long_header",
    "many_headers",
    "redirect",
    "reset",
    "slow_headers",
    "trickle_body",
]

_MAX_HEAD = 64 * 1024
_MAX_RECORDED_BODY = 64 * 1024
_MAX_LOG = 10_000
_CHUNK = 64 * 1024
_ZERO_CHUNK = bytes(_CHUNK)

Action = Literal["respond", "close", "reset", "half"]


@dataclass(frozen=True, slots=True)
class Received:
    """One request as the server read it (body cut to 64 KiB)."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    body_length: int
    index: int

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), or None."""
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)


BodySource = Callable[[], AsyncIterator[bytes]]


@dataclass(frozen=True, slots=True)
class Answer:
    """How to answer one request.

    Attributes:
        status_line: the raw status line, without CRLF (anything, even garbage).
        headers: raw header lines (name, value) as bytes; Content-Length is not added for you.
        body: bytes, or a factory of an async iterator of chunks (written as they come).
        chunked: frame the body with chunked transfer-encoding (adds the header).
        head_delay: seconds to wait before the status line.
        chunk_delay: seconds to wait between body chunks (a trickle).
        action: `respond`; `close` right after reading the request; `reset` (RST via
            SO_LINGER 0); `half`: send the head and half the body, then close.
        keep_alive: keep the connection for the next request (else close after the answer).
        preamble: raw bytes sent before the status line (e.g. 1xx interim responses).
    """

    status_line: bytes = b"HTTP/1.1 201 Created"
    headers: Sequence[tuple[bytes, bytes]] = ()
    body: bytes | BodySource = b""
    chunked: bool = False
    head_delay: float = 0.0
    chunk_delay: float = 0.0
    action: Action = "respond"
    keep_alive: bool = True
    preamble: bytes = b""


Behaviour = Callable[[Received], Answer]
"""Chooses the answer to a request; `Received.index` counts requests from 0."""


def answer(
    status: int,
    *,
    reason: str = "X",
    headers: Sequence[tuple[bytes, bytes]] = (),
    body: bytes = b"",
) -> Answer:
    """A plain, well-formed answer with Content-Length."""
    return Answer(
        status_line=f"HTTP/1.1 {status} {reason}".encode(),
        headers=[*headers, (b"Content-Length", str(len(body)).encode())],
        body=body,
    )


def always(reply: Answer) -> Behaviour:
    """The same answer to every request."""
    return lambda _request: reply


def redirect(status: int, location: str) -> Answer:
    """A 3xx pointing somewhere else."""
    return answer(status, reason="Redirect", headers=[(b"Location", location.encode())])


def info_only() -> Answer:
    """Only interim 1xx responses, then the connection closes."""
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n"
    return Answer(preamble=interim, action="close")


def garbage_status() -> Answer:
    """A status line that is not HTTP at all."""
    return Answer(
        status_line=b"\x00\xffHELLO THERE not http",
        headers=[(b"Content-Length", b"0")],
        keep_alive=False,
    )


def many_headers(count: int = 10_000, status: int = 201) -> Answer:
    """`count` distinct headers on an otherwise fine answer."""
    headers = [(f"X-H{i}".encode(), b"v") for i in range(count)]
    return answer(status, headers=headers)


def long_header(size: int = 100 * 1024, status: int = 201) -> Answer:
    """One header line of `size` bytes."""
    return answer(status, headers=[(b"X-Long", b"a" * size)])


async def _sized(total: int) -> AsyncIterator[bytes]:
    left = total
    while left > 0:
        piece = _ZERO_CHUNK if left >= _CHUNK else _ZERO_CHUNK[:left]
        left -= len(piece)
        yield piece


async def _endless() -> AsyncIterator[bytes]:
    while True:
        yield _ZERO_CHUNK


def huge_body(status: int = 201, size: int = 200 * 1024 * 1024) -> Answer:
    """A Content-Length body of `size` zero bytes, generated lazily."""
    return Answer(
        status_line=f"HTTP/1.1 {status} Huge".encode(),
        headers=[(b"Content-Length", str(size).encode()), (b"Content-Type", b"text/plain")],
        body=lambda: _sized(size),
    )


def endless_chunked(status: int = 201) -> Answer:
    """A chunked body that never ends."""
    return Answer(
        status_line=f"HTTP/1.1 {status} Endless".encode(),
        headers=[(b"Content-Type", b"application/json")],
        body=_endless,
        chunked=True,
    )


async def _gzip_zeros(total: int) -> AsyncIterator[bytes]:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip framing
    left = total
    mib = bytes(1024 * 1024)
    while left > 0:
        piece = mib if left >= len(mib) else mib[:left]
        left -= len(piece)
        out = compressor.compress(piece)
        if out:
            yield out
        await asyncio.sleep(0)
    yield compressor.flush()


def gzip_bomb(status: int = 201, expanded: int = 1024 * 1024 * 1024) -> Answer:
    """`Content-Encoding: gzip` of `expanded` zero bytes (~1 MB on the wire), chunked."""
    return Answer(
        status_line=f"HTTP/1.1 {status} Bomb".encode(),
        headers=[(b"Content-Encoding", b"gzip"), (b"Content-Type", b"application/json")],
        body=lambda: _gzip_zeros(expanded),
        chunked=True,
    )


def slow_headers(seconds: float, status: int = 201) -> Answer:
    """A fine answer whose status line comes only after `seconds`."""
    return Answer(
        status_line=f"HTTP/1.1 {status} Slow".encode(),
        headers=[(b"Content-Length", b"0")],
        head_delay=seconds,
    )


def trickle_body(status: int = 201, size: int = 64, every: float = 0.5) -> Answer:
    """A Content-Length body sent one byte every `every` seconds."""

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(size):
            yield b"x"

    return Answer(
        status_line=f"HTTP/1.1 {status} Trickle".encode(),
        headers=[(b"Content-Length", str(size).encode())],
        body=chunks,
        chunk_delay=every,
    )


def reset() -> Answer:
    """Read the request, then reset the connection (RST, SO_LINGER 0)."""
    return Answer(action="reset")


def close_after_request() -> Answer:
    """Read the request, then close the connection without a byte."""
    return Answer(action="close")


def half_response(status: int = 201) -> Answer:
    """The head and half of a 1000-byte Content-Length body, then close."""
    return Answer(
        status_line=f"HTTP/1.1 {status} Half".encode(),
        headers=[(b"Content-Length", b"1000")],
        body=b"y" * 1000,
        action="half",
    )


class _BadRequest(Exception):
    pass


@dataclass
class HostileServer:
    """The running server: swap `behaviour` at any time; read what it received.

    `body_bytes_sent` counts body bytes the client has taken (written and drained).
    """

    behaviour: Behaviour
    host: str = "127.0.0.1"
    port: int = 0
    received: deque[Received] = field(default_factory=lambda: deque(maxlen=_MAX_LOG))
    count_by_path: Counter[str] = field(default_factory=Counter)
    body_bytes_sent: int = 0
    _count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def url(self) -> str:
        """The base URL (no path)."""
        return f"http://{self.host}:{self.port}"

    @property
    def count(self) -> int:
        """Requests read so far."""
        with self._lock:
            return self._count

    def requests_to(self, path: str) -> int:
        """Requests read so far for `path`."""
        with self._lock:
            return self.count_by_path[path]

    def snapshot(self) -> list[Received]:
        """The recorded requests (the last 10,000)."""
        with self._lock:
            return list(self.received)

    def set(self, behaviour: Behaviour) -> None:
        """Answer the next requests with `behaviour`."""
        self.behaviour = behaviour

    def drop_connections(self) -> None:
        """Close every open connection (e.g. an endless body in progress)."""
        loop = self._loop
        if loop is None:
            return

        def close_all() -> None:
            for writer in list(self._writers):
                writer.transport.abort()

        loop.call_soon_threadsafe(close_all)

    # -- the server side -----------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                request = await self._read_request(reader)
                if request is None:
                    return
                reply = self.behaviour(request)
                if not await self._answer(writer, reply):
                    return
        except (_BadRequest, ConnectionError, asyncio.IncompleteReadError, OSError):
            return
        except asyncio.CancelledError:
            # The server is stopping; asyncio's stream callback would log a cancelled handler.
            return
        finally:
            self._writers.discard(writer)
            if writer.transport.is_closing():
                writer.transport.abort()
            else:
                writer.close()

    async def _read_request(self, reader: asyncio.StreamReader) -> Received | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        except asyncio.LimitOverrunError as exc:
            raise _BadRequest("head too large") from exc
        lines = head[:-4].decode("latin-1").split("\r\n")
        method, path, _version = [*lines[0].split(" ", 2), "", ""][:3]
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
        length = 0
        for name, value in headers:
            if name.lower() == "content-length":
                length = int(value)
        kept = bytearray()
        left = length
        while left > 0:
            piece = await reader.read(min(left, _CHUNK))
            if not piece:
                raise asyncio.IncompleteReadError(bytes(kept), length)
            left -= len(piece)
            if len(kept) < _MAX_RECORDED_BODY:
                kept += piece[: _MAX_RECORDED_BODY - len(kept)]
        with self._lock:
            index = self._count
            self._count += 1
            self.count_by_path[path] += 1
            request = Received(method, path, tuple(headers), bytes(kept), length, index)
            self.received.append(request)
        return request

    async def _answer(self, writer: asyncio.StreamWriter, reply: Answer) -> bool:
        """Write `reply`; True if the connection stays open for another request."""
        if reply.action == "close":
            if reply.preamble:
                writer.write(reply.preamble)
                await writer.drain()
            writer.close()
            return False
        if reply.action == "reset":
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        if reply.head_delay:
            await asyncio.sleep(reply.head_delay)
        headers = list(reply.headers)
        if reply.chunked:
            headers.append((b"Transfer-Encoding", b"chunked"))
        if not reply.keep_alive:
            headers.append((b"Connection", b"close"))
        head = bytearray(reply.preamble)
        head += reply.status_line + b"\r\n"
        for name, value in headers:
            head += name + b": " + value + b"\r\n"
        head += b"\r\n"
        writer.write(bytes(head))
        await writer.drain()
        if reply.action == "half":
            body = reply.body if isinstance(reply.body, bytes) else b""
            writer.write(body[: len(body) // 2])
            await writer.drain()
            writer.close()
            return False
        if isinstance(reply.body, bytes):
            chunks: AsyncIterator[bytes] = _once(reply.body)
        else:
            chunks = reply.body()
        async for chunk in chunks:
            if not chunk:
                continue
            if reply.chunked:
                writer.write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            else:
                writer.write(chunk)
            await writer.drain()
            self.body_bytes_sent += len(chunk)
            if reply.chunk_delay:
                await asyncio.sleep(reply.chunk_delay)
        if reply.chunked:
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        return reply.keep_alive


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body


@contextlib.contextmanager
def hostile_server(behaviour: Behaviour, *, port: int = 0) -> Iterator[HostileServer]:
    """Run a `HostileServer` in a background thread until the block ends."""
    server = HostileServer(behaviour)

    def started(loop: asyncio.AbstractEventLoop, bound: int) -> None:
        server.port = bound
        server._loop = loop

    with server_thread(
        server._handle,
        on_started=started,
        open_writers=lambda: server._writers,
        port=port,
        limit=_MAX_HEAD,
    ):
        yield server
