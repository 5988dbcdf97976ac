"""A forward HTTP proxy on loopback that counts what goes through it: CONNECT and absolute-URI.

An `http://` request arrives as `POST http://host:port/path HTTP/1.1`; the proxy sends it on
in origin form (`POST /path`), one request per connection (`Connection: close`). An `https://`
one arrives as `CONNECT host:port`, and the proxy tunnels the bytes both ways unread.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from threaded_server import server_thread


@dataclass
class ForwardProxy:
    """What went through one running proxy; `url` is what HTTP(S)_PROXY is set to."""

    url: str = ""
    requests: list[str] = field(default_factory=list)
    tunnels: list[str] = field(default_factory=list)


@contextlib.contextmanager
def forward_proxy() -> Iterator[ForwardProxy]:
    """Run a counting forward proxy on 127.0.0.1 until the block ends."""
    proxy = ForwardProxy()
    writers: set[asyncio.StreamWriter] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
            if method == "CONNECT":
                proxy.tunnels.append(target)
                await _tunnel(reader, writer, target, writers)
            else:
                proxy.requests.append(f"{method} {target}")
                await _forward(reader, writer, method, target, head, writers)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()
            writers.discard(writer)

    def started(_: asyncio.AbstractEventLoop, port: int) -> None:
        proxy.url = f"http://127.0.0.1:{port}"

    with server_thread(handle, on_started=started, open_writers=lambda: list(writers)):
        yield proxy


async def _tunnel(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    target: str,
    writers: set[asyncio.StreamWriter],
) -> None:
    host, port = target.rsplit(":", 1)
    up_reader, up_writer = await asyncio.open_connection(host, int(port))
    writers.add(up_writer)
    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    await writer.drain()
    await asyncio.gather(_copy(reader, up_writer), _copy(up_reader, writer))


async def _forward(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    method: str,
    target: str,
    head: bytes,
    writers: set[asyncio.StreamWriter],
) -> None:
    parts = urlsplit(target)
    lines = head.decode("latin-1").split("\r\n")[1:]
    headers = [line for line in lines if line and not line.lower().startswith("connection:")]
    length = next(
        (
            int(line.split(":", 1)[1])
            for line in headers
            if line.lower().startswith("content-length:")
        ),
        0,
    )
    body = await reader.readexactly(length)
    up_reader, up_writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
    writers.add(up_writer)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    request = [f"{method} {path} HTTP/1.1", *headers, "Connection: close", "", ""]
    up_writer.write("\r\n".join(request).encode("latin-1") + body)
    await up_writer.drain()
    await _copy(up_reader, writer)


async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while chunk := await source.read(65536):
            sink.write(chunk)
            await sink.drain()
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.close()
