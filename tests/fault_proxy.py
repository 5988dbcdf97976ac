"""A TCP fault proxy in front of the Kafka broker, and a Tansu broker that advertises it.

`FaultProxy` listens on 127.0.0.1 and forwards every connection to the real broker. Its mode
can change at any time:

- `pass`: forward bytes both ways;
- `cut`: abort every open connection and reset new ones as soon as they are accepted;
- `blackhole`: keep (and accept) connections but forward nothing; what was held back is
  forwarded once the mode changes back, as TCP would retransmit it;
- `latency`: deliver each chunk `latency_ms` after it arrived (throughput is kept).

`on_request`, when set, is called (in the proxy's thread) with every whole Kafka request a
client sends, without its size prefix: the wire as the broker receives it (`fetch_isolation`
reads a Fetch request's isolation level).

Kafka clients reconnect to the address the broker *advertises*, so the broker must advertise
the proxy: `proxied_tansu()` starts a memory-only Tansu with `--advertised-listener-url` set to
the proxy's port (the start logic is a copy of `consumer.devkit._local_broker.tansu_broker`'s).

The proxy runs its own event loop in a background thread, so a blackholed relay cannot starve
it (and vice versa).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from threaded_server import server_thread

from consumer.devkit import tansu_broker

__all__ = [
    "FaultProxy",
    "FetchSeen",
    "Mode",
    "ProxiedBroker",
    "fault_proxy",
    "fetch_isolation",
    "proxied_tansu",
]

Mode = Literal["pass", "cut", "blackhole", "latency"]

_CHUNK = 64 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class FaultProxy:
    """The proxy's controls; create it with `fault_proxy()`."""

    upstream_host: str
    upstream_port: int
    port: int
    mode: Mode = "pass"
    latency_ms: float = 0.0
    accepted: int = 0
    on_request: Callable[[bytes], None] | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _changed: asyncio.Event | None = None
    _conns: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def address(self) -> str:
        """`127.0.0.1:port` of the proxy."""
        return f"127.0.0.1:{self.port}"

    def set_mode(self, mode: Mode, *, latency_ms: float | None = None) -> None:
        """Switch mode (thread-safe); `cut` aborts every open connection at once."""
        loop = self._loop
        assert loop is not None

        def apply() -> None:
            if latency_ms is not None:
                self.latency_ms = latency_ms
            self.mode = mode
            if mode == "cut":
                for writer in list(self._conns):
                    writer.transport.abort()
                self._conns.clear()
            assert self._changed is not None
            self._changed.set()
            self._changed = asyncio.Event()

        done = threading.Event()

        def run() -> None:
            try:
                apply()
            finally:
                done.set()

        loop.call_soon_threadsafe(run)
        done.wait(5)

    # -- the proxy side ------------------------------------------------------------------

    def _is_cut(self) -> bool:
        return self.mode == "cut"

    async def _wait_change(self) -> None:
        assert self._changed is not None
        await self._changed.wait()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:
            # The proxy is stopping; asyncio's stream callback would log a cancelled handler.
            writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self.mode == "cut":
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
        except OSError:
            writer.transport.abort()
            return
        if self._is_cut():  # cut while connecting
            writer.transport.abort()
            up_writer.transport.abort()
            return
        self._conns.update((writer, up_writer))
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, _Frames(self)), self._pump(up_reader, writer)
            )
        finally:
            for w in (writer, up_writer):
                self._conns.discard(w)
                w.transport.abort()

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        frames: _Frames | None = None,
    ) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        async def deliver() -> None:
            while True:
                due, chunk = await queue.get()
                if not chunk:
                    return
                while self.mode == "blackhole":
                    await self._wait_change()
                if self._is_cut():
                    return
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(chunk)
                await writer.drain()

        sender = asyncio.create_task(deliver())
        try:
            while True:
                read = asyncio.create_task(reader.read(_CHUNK))
                await asyncio.wait({read, sender}, return_when=asyncio.FIRST_COMPLETED)
                if not read.done():
                    read.cancel()
                    return
                chunk = read.result()
                if frames is not None:
                    frames.feed(chunk)
                latency = self.latency_ms / 1000 if self.mode == "latency" else 0.0
                queue.put_nowait((loop.time() + latency, chunk))
                if not chunk:
                    await sender
                    return
        except (ConnectionError, OSError):
            return
        finally:
            sender.cancel()
            with contextlib.suppress(BaseException):
                await sender
            writer.transport.abort()


class _Frames:
    """Cuts a client's byte stream into Kafka requests (int32 size, then the request)."""

    def __init__(self, proxy: FaultProxy) -> None:
        self._proxy = proxy
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> None:
        # Framed even while nobody observes: an observer set later starts on a request boundary.
        self._buffer += chunk
        while len(self._buffer) >= 4:
            (size,) = struct.unpack_from(">i", self._buffer)
            if len(self._buffer) < 4 + size:
                return
            observe = self._proxy.on_request
            if observe is not None:
                observe(bytes(self._buffer[4 : 4 + size]))
            del self._buffer[: 4 + size]


@dataclass(frozen=True)
class FetchSeen:
    """One Fetch request as the broker receives it."""

    version: int
    client_id: str | None
    isolation_level: int


_FETCH = 1
_FLEXIBLE_FETCH = 12  # request header v2 (tagged fields) from this version on


def fetch_isolation(request: bytes) -> FetchSeen | None:
    """The isolation level of a Fetch request (v4+); None for any other request."""
    api_key, version = struct.unpack_from(">hh", request)
    if api_key != _FETCH or version < 4:
        return None
    pos = 8  # api key, version, correlation id
    (length,) = struct.unpack_from(">h", request, pos)
    pos += 2
    client_id = None if length < 0 else request[pos : pos + length].decode()
    pos += max(0, length)
    if version >= _FLEXIBLE_FETCH:
        count, pos = _uvarint(request, pos)
        for _ in range(count):
            _, pos = _uvarint(request, pos)
            size, pos = _uvarint(request, pos)
            pos += size
    pos += 16  # replica id, max wait ms, min bytes, max bytes
    return FetchSeen(version, client_id, request[pos])


def _uvarint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


@contextlib.contextmanager
def fault_proxy(upstream: str, *, port: int = 0) -> Iterator[FaultProxy]:
    """Run a `FaultProxy` to `upstream` (`host:port`) in a background thread."""
    host, _, up_port = upstream.rpartition(":")
    proxy = FaultProxy(host, int(up_port), port)

    def started(loop: asyncio.AbstractEventLoop, bound: int) -> None:
        proxy._changed = asyncio.Event()
        proxy.port = bound
        proxy._loop = loop

    with server_thread(
        proxy._accept, on_started=started, open_writers=lambda: proxy._conns, port=port
    ):
        yield proxy


@dataclass(frozen=True)
class ProxiedBroker:
    """A Tansu broker reachable (and advertised) only through `proxy`."""

    proxy: FaultProxy
    direct: str

    @property
    def bootstrap_servers(self) -> str:
        """Bootstrap address for clients: the proxy."""
        return self.proxy.address


@contextlib.contextmanager
def proxied_tansu(*, startup_timeout: float = 15.0) -> Iterator[ProxiedBroker]:
    """A memory-only Tansu on a free port that advertises a fault proxy in front of it."""
    direct = f"127.0.0.1:{_free_port()}"
    with (
        fault_proxy(direct) as proxy,
        tansu_broker(startup_timeout=startup_timeout, address=direct, advertised=proxy.address),
    ):
        yield ProxiedBroker(proxy, direct)
