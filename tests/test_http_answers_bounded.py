"""Whatever a server answers, one attempt costs bounded memory and never follows a redirect."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from relay_harness import relay_settings

from consumer.adapters import HttpClient, build_http_client, redact_userinfo

Answer = Callable[[asyncio.StreamWriter], Awaitable[None]]
TRANSPORTS = ["aiohttp", "httpx", "pyreqwest"]


class RawServer:
    """An HTTP/1.1 server on loopback that reads each request and writes a scripted answer."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests = 0
        self.connections = 0
        self.sent = 0
        self.closed_early = asyncio.Event()
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                self.requests += 1
                await self.answer(writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            self.closed_early.set()
        finally:
            writer.close()

    async def stream(self, writer: asyncio.StreamWriter, chunk: bytes, total: int | None) -> None:
        """Write `chunk` until `total` bytes (None: forever) or until the client goes away."""
        while total is None or self.sent < total:
            writer.write(chunk)
            self.sent += len(chunk)
            await writer.drain()


@pytest.fixture
async def client_factory() -> AsyncIterator[Callable[[str, str], HttpClient]]:
    clients: list[HttpClient] = []

    def make(transport: str, url: str) -> HttpClient:
        settings = relay_settings(
            "127.0.0.1:9", "t", url, OUTBOUND_HTTP_TRANSPORT=transport, OUTBOUND_TIMEOUT_SECONDS=5
        )
        client = build_http_client(settings)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


async def _serving(answer: Answer) -> tuple[RawServer, str]:
    server = RawServer(answer)
    return server, await server.start()


def _head(status: str, *headers: str) -> bytes:
    return ("\r\n".join([f"HTTP/1.1 {status}", *headers]) + "\r\n\r\n").encode("latin-1")


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_redirect_is_returned_not_followed(
    transport: str, client_factory: Callable[[str, str], HttpClient]
) -> None:
    """A 307 to another server comes back as a 307; the target sees no request."""

    async def created(writer: asyncio.StreamWriter) -> None:
        writer.write(_head("201 Created", "Content-Length: 0"))

    target, target_url = await _serving(created)

    async def redirect(writer: asyncio.StreamWriter) -> None:
        writer.write(
            _head("307 Temporary Redirect", f"Location: {target_url}/in", "Content-Length: 0")
        )

    origin, url = await _serving(redirect)
    answer = await client_factory(transport, url).post(f"{url}/in", b"{}", {})
    assert answer.status == 307
    assert target.requests == 0
    assert origin.requests == 1
    await origin.stop()
    await target.stop()


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("framing", ["length", "chunked"])
async def test_huge_or_endless_body_is_not_read(
    transport: str, framing: str, client_factory: Callable[[str, str], HttpClient]
) -> None:
    """A 201 with a 200 MB or endless body returns at once; its connection is closed."""
    server: RawServer

    async def flood(writer: asyncio.StreamWriter) -> None:
        if framing == "length":
            writer.write(_head("201 Created", f"Content-Length: {200 * 1024 * 1024}"))
            await server.stream(writer, b"x" * 65536, 200 * 1024 * 1024)
        else:
            writer.write(_head("201 Created", "Transfer-Encoding: chunked"))
            await server.stream(writer, b"10000\r\n" + b"y" * 65536 + b"\r\n", None)

    server, url = await _serving(flood)
    answer = await client_factory(transport, url).post(f"{url}/in", b"{}", {})
    assert answer.status == 201
    assert answer.body == ""
    await asyncio.wait_for(server.closed_early.wait(), 10)
    assert server.sent < 64 * 1024 * 1024
    await server.stop()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_compressed_body_is_not_inflated(
    transport: str, client_factory: Callable[[str, str], HttpClient]
) -> None:
    """A gzip body is kept as the bytes sent (cut to 1 KiB), never decompressed."""
    bomb = gzip.compress(b"z" * (20 * 1024 * 1024))

    async def gzipped(writer: asyncio.StreamWriter) -> None:
        writer.write(
            _head("400 Bad Request", "Content-Encoding: gzip", f"Content-Length: {len(bomb)}")
        )
        writer.write(bomb)

    server, url = await _serving(gzipped)
    answer = await client_factory(transport, url).post(f"{url}/in", b"{}", {})
    assert answer.status == 400
    assert len(answer.body) <= 1024
    assert "zzzz" not in answer.body
    await server.stop()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_small_answers_keep_the_connection(
    transport: str, client_factory: Callable[[str, str], HttpClient]
) -> None:
    """Small bodies are read to the end, so keep-alive still saves a connect per request."""

    async def small(writer: asyncio.StreamWriter) -> None:
        body = b'{"error":"bad"}' * 10
        writer.write(_head("400 Bad Request", f"Content-Length: {len(body)}", "Retry-After: 3"))
        writer.write(body)

    server, url = await _serving(small)
    client = client_factory(transport, url)
    first = await client.post(f"{url}/in", b"{}", {})
    second = await client.post(f"{url}/in", b"{}", {})
    assert first.body.startswith('{"error":"bad"}')
    assert second.headers == {"retry-after": "3"}
    assert server.requests == 2
    assert server.connections == 1
    await server.stop()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_trickling_201_is_answered_once_the_body_read_bound_passes(
    transport: str, client_factory: Callable[[str, str], HttpClient]
) -> None:
    """A 201 head is final: a body trickling past the 5 s timeout is cut, never waited for."""

    async def trickle(writer: asyncio.StreamWriter) -> None:
        writer.write(_head("201 Created", "Content-Length: 64"))
        for _ in range(64):
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.5)  # the server's pace, not a wait for the test

    server, url = await _serving(trickle)
    async with asyncio.timeout(4):
        answer = await client_factory(transport, url).post(f"{url}/in", b"{}", {})
    assert answer.status == 201
    await server.stop()


def test_userinfo_is_masked_in_error_text() -> None:
    """Credentials in any URL of an error message are masked."""
    text = "InvalidURL: http://user:s3cr3tpass@host:99999/x and HTTPS://a@b/c"
    masked = redact_userinfo(text)
    assert "s3cr3tpass" not in masked
    assert "user" not in masked
    assert "http://***@host:99999/x" in masked
    assert "HTTPS://***@b/c" in masked
