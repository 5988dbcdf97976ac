"""What one POST costs the client: aiohttp against httpx, on the same loopback server.

The relay on one core is bound by CPU per signal, so the HTTP client's own CPU per request
decides its transport. A minimal HTTP/1.1 server (`python -m bench.http_clients serve PORT`,
answers 201 at once) runs in a process of its own; each client variant runs in another
(`python -m bench.http_clients client URL VARIANT COUNT CONCURRENCY`) and reports requests per
second and its own CPU per request. The variants:

- `aiohttp`: `ClientSession.post`, what the relay does by default;
- `httpx-client-on-aiohttp`: `httpx.AsyncClient` over a minimal `httpx.AsyncBaseTransport`
  that hands each request to the same kind of aiohttp session;
- `httpx-transport-on-aiohttp`: `httpx.Request` objects sent straight to that transport, no
  AsyncClient (httpx's models, none of its client logic);
- `httpx-client`: `httpx.AsyncClient` on its own transport (httpcore), as
  `OUTBOUND_HTTP_TRANSPORT=httpx` runs it;
- `pyreqwest`: pyreqwest's `Client` (Rust: reqwest on hyper), body read whole;
- `relay-aiohttp`, `relay-pyreqwest`: the relay's own `HttpClient` for that transport
  (`build_http_client`: bounded streamed reads, no redirects), unsigned.

CPU is the client process's, all its threads (pyreqwest runs hyper on a thread of its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import aiohttp
import httpx
import orjson
from pyreqwest.client import ClientBuilder

from bench.loops import run_fast
from bench.processes import (
    BenchError,
    free_port,
    listening,
    run_child,
    start_process,
    stop_process,
    wait_for,
)
from bench.records import SECRET
from consumer.adapters import build_http_client
from consumer.config import load_settings

__all__ = [
    "VARIANTS",
    "ClientCost",
    "answered_posts",
    "answering_server",
    "measure_http_clients",
    "serve_answers",
]

VARIANTS = {
    "aiohttp": "aiohttp `ClientSession` (the relay's default)",
    "httpx-transport-on-aiohttp": "`httpx.Request` sent to an aiohttp-backed httpx transport",
    "httpx-client-on-aiohttp": "`httpx.AsyncClient` on an aiohttp-backed httpx transport",
    "httpx-client": "`httpx.AsyncClient` on httpcore (`OUTBOUND_HTTP_TRANSPORT=httpx`)",
    "pyreqwest": "pyreqwest `Client` (reqwest/hyper), body read whole",
    "relay-aiohttp": "the relay's `HttpClient`, `OUTBOUND_HTTP_TRANSPORT=aiohttp`",
    "relay-pyreqwest": "the relay's `HttpClient`, `OUTBOUND_HTTP_TRANSPORT=pyreqwest`",
}
"""Each client variant and how the report names it."""
_BODY = orjson.dumps({"instrument": "SYM000/USD", "note": "x" * 240})
_HEADERS = {
    "Content-Type": "application/json",
    "X-Producer-Id": "bench",
    "X-Timestamp": "2026-11-28T03:00:00.000Z",
    "X-Signature": "A" * 43 + "=",
    "X-Idempotency-Key": "eae0d2c1-1c33-4464-873d-212ba950666d",
}
_WARM_UP = 500
_ANSWER_BODY = b'{"status":"accepted"}'
_ANSWER = (
    b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
    % (len(_ANSWER_BODY), _ANSWER_BODY)
)


@dataclass(frozen=True, slots=True)
class ClientCost:
    """One client variant's run.

    Attributes:
        variant: which client (see the module docstring).
        concurrency: requests in flight.
        requests_per_second: completed requests per wall-clock second.
        cpu_us: the client process's CPU microseconds per request.
    """

    variant: str
    concurrency: int
    requests_per_second: float
    cpu_us: float


async def measure_http_clients(
    logs: Path, count: int, concurrency: int, port: int, variants: Sequence[str] = ()
) -> tuple[ClientCost, ...]:
    """Each variant's (default: all) cost for `count` POSTs at `concurrency`, in turn."""
    log = logs / "http-clients.log"
    costs = []
    async with answering_server(logs, port) as server:
        url = f"{server}/api/v1/signals/ingest"
        for variant in variants or VARIANTS:
            args = ["client", url, variant, str(count), str(concurrency)]
            result = await run_child("bench.http_clients", args, log)
            costs.append(ClientCost(variant, concurrency, result["rate"], result["cpu_us"]))
    return tuple(costs)


class _AiohttpTransport(httpx.AsyncBaseTransport):
    """The least an httpx transport over aiohttp can do: send, read, wrap the answer."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        async with self._session.request(
            request.method, str(request.url), data=request.content, headers=headers
        ) as response:
            content = await response.read()
        return httpx.Response(
            response.status, headers=response.raw_headers, content=content, request=request
        )

    async def aclose(self) -> None:
        await self._session.close()


class _Tally:
    """POSTs answered by one server process, across its connections."""

    def __init__(self) -> None:
        self.posts = 0


class _Answer201(asyncio.Protocol):
    """Answers every complete POST on the connection with `answer` (a 201), and counts it.

    `GET /count` is answered with the number of POSTs answered so far (a 200, the number as
    text): how a benchmark knows when a client has finished, without asking the client.
    """

    def __init__(self, answer: bytes, tally: _Tally) -> None:
        self._answer = answer
        self._tally = tally
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            length = 0
            for line in self._buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self._buffer) < end + 4 + length:
                return
            counting = self._buffer.startswith(b"GET /count ")
            self._buffer = self._buffer[end + 4 + length :]
            assert self._transport is not None
            if counting:
                text = str(self._tally.posts).encode()
                self._transport.write(_COUNT_ANSWER % (len(text), text))
            else:
                self._tally.posts += 1
                self._transport.write(self._answer)


_COUNT_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"


async def serve_answers(port: int, answer: bytes = _ANSWER) -> None:
    """A minimal HTTP/1.1 server on loopback answering every POST with `answer`."""
    loop = asyncio.get_running_loop()
    tally = _Tally()
    server = await loop.create_server(lambda: _Answer201(answer, tally), "127.0.0.1", port)
    async with server:
        await server.serve_forever()


@contextlib.asynccontextmanager
async def answering_server(logs: Path, port: int | None = None) -> AsyncIterator[str]:
    """`serve_answers` in a process of its own (on `port`, else a free one); yields its base URL.

    `GET /count` there says how many POSTs it has answered.
    """
    port = free_port() if port is None else port
    log = logs / "answering-server.log"
    server = await start_process(
        [sys.executable, "-m", "bench.http_clients", "serve", str(port)], {}, log
    )
    try:
        await wait_for(lambda: listening(port), 15, "the minimal answering server")
        yield f"http://127.0.0.1:{port}"
    finally:
        if await stop_process(server) not in (0, -15):
            raise BenchError(f"the minimal answering server failed; see {log}")


async def answered_posts(session: aiohttp.ClientSession, base_url: str) -> int:
    """How many POSTs the `answering_server` at `base_url` has answered."""
    async with session.get(f"{base_url}/count") as response:
        return int(await response.text())


def _sender(
    variant: str, url: str, concurrency: int
) -> tuple[Callable[[], Awaitable[int]], Callable[[], Awaitable[None]]]:
    """A function that sends one POST and returns its status, and one that closes the client."""

    def session() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency),
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    if variant == "aiohttp":
        plain = session()

        async def post_aiohttp() -> int:
            async with plain.post(url, data=_BODY, headers=_HEADERS) as response:
                await response.read()
                return response.status

        return post_aiohttp, plain.close
    if variant == "pyreqwest":
        rust = ClientBuilder().max_connections(concurrency).build()

        async def post_pyreqwest() -> int:
            request = rust.post(url).headers(_HEADERS).body_bytes(_BODY).build()
            response = await request.send()
            await response.bytes()
            return response.status

        return post_pyreqwest, rust.close
    if variant.startswith("relay-"):
        settings = load_settings(
            {
                "PRODUCER_ID": "bench",
                "HMAC_PRODUCER_SECRET": SECRET,
                "OUTBOUND_SERVER_URL": url,
                "OUTBOUND_HTTP_TRANSPORT": variant.removeprefix("relay-"),
                "RELAY_MAX_IN_FLIGHT": str(concurrency),
            }
        )
        relay_client = build_http_client(settings)

        async def post_relay() -> int:
            return (await relay_client.post(url, _BODY, _HEADERS)).status

        return post_relay, relay_client.aclose
    if variant == "httpx-transport-on-aiohttp":
        transport = _AiohttpTransport(session())
        target = httpx.URL(url)

        async def post_transport() -> int:
            request = httpx.Request("POST", target, content=_BODY, headers=_HEADERS)
            return (await transport.handle_async_request(request)).status_code

        return post_transport, transport.aclose
    if variant == "httpx-client-on-aiohttp":
        client = httpx.AsyncClient(transport=_AiohttpTransport(session()))
    elif variant == "httpx-client":
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        client = httpx.AsyncClient(limits=limits)
    else:
        raise ValueError(f"unknown variant {variant!r}")

    async def post_client() -> int:
        return (await client.post(url, content=_BODY, headers=_HEADERS)).status_code

    return post_client, client.aclose


async def _measure(variant: str, url: str, count: int, concurrency: int) -> dict[str, float]:
    post, close = _sender(variant, url, concurrency)

    async def posts(n: int) -> None:
        for _ in range(n):
            status = await post()
            if status != 201:
                raise RuntimeError(f"{variant}: HTTP {status}")

    async def run(total: int) -> None:
        # `concurrency` POSTs in flight: as many workers, each POSTing in turn. No task and no
        # semaphore per request, whose cost would be counted as the client's.
        share, rest = divmod(total, concurrency)
        await asyncio.gather(*(posts(share + (n < rest)) for n in range(concurrency)))

    try:
        await run(_WARM_UP)
        cpu, wall = time.process_time(), time.perf_counter()
        await run(count)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        await close()
    return {"rate": count / wall, "cpu_us": cpu / count * 1e6}


def main(argv: list[str]) -> int:
    """`serve PORT` or `client URL VARIANT COUNT CONCURRENCY`."""
    if argv[0] == "serve":
        run_fast(serve_answers(int(argv[1])))
        return 0
    url, variant, count, concurrency = argv[1], argv[2], int(argv[3]), int(argv[4])
    result = run_fast(_measure(variant, url, count, concurrency))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
