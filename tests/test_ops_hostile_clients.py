"""The operations port against clients that do not play fair, over real loopback sockets.

Slowloris heads, oversized request lines and headers, a flood of idle connections and a client
that never reads its answer: each is cut off by a bound, and none of them logs a traceback or
keeps the port from answering the next well-behaved client, nor holds the event loop the relay
delivers on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from conftest import RunningReceiver, TopicFactory, eventually, eventually_async
from relay_harness import (
    end_offsets,
    free_port,
    keyed_signals,
    publish,
    relay_settings,
    running_relay,
)

from consumer.ops import Exposition, OpsServer, RelayMetrics
from consumer.tools import committed_offsets, ensure_topic


@contextlib.asynccontextmanager
async def running_ops(**limits: Any) -> AsyncIterator[tuple[OpsServer, int]]:
    """An OpsServer on a free loopback port, with `limits` passed to its constructor."""
    ops = OpsServer(
        render_metrics=RelayMetrics().render,
        readiness=lambda: (True, ""),
        **limits,
    )
    port = await ops.start("127.0.0.1", 0)
    try:
        yield ops, port
    finally:
        await ops.stop()


@pytest.fixture
def ops_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record of the ops logger and of asyncio (which reports escaped exceptions)."""
    ops_logger = logging.getLogger("signal_relay.ops")
    # `configure_logging` (run by other tests in the session) stops "signal_relay" propagating.
    ops_logger.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG, logger="signal_relay.ops")
    caplog.set_level(logging.DEBUG, logger="asyncio")
    try:
        yield caplog
    finally:
        ops_logger.removeHandler(caplog.handler)


def assert_no_error_or_traceback(log: pytest.LogCaptureFixture) -> None:
    """No record at ERROR or above, and no record carrying a traceback."""
    bad = [r for r in log.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [(r.name, r.levelname, r.getMessage()) for r in bad]


async def read_to_eof(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := await reader.read(65536):
        chunks.append(chunk)
    return b"".join(chunks)


async def close(writer: asyncio.StreamWriter) -> None:
    """Close a client connection, whatever state the server left it in."""
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


async def exchange(port: int, request: bytes, within: float = 5.0) -> bytes:
    """Send `request` on a fresh connection; everything answered until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(read_to_eof(reader), within)
    finally:
        await close(writer)


def status_of(response: bytes) -> int:
    """The status code of a raw HTTP/1.0 answer."""
    assert response.startswith(b"HTTP/1.0 "), response[:80]
    return int(response.split(b" ", 2)[1])


@pytest.mark.parametrize(
    ("opening", "trickle"),
    [
        pytest.param(
            b"GET /healthz HTTP/1.0\r\n", b"X-Slow: 1\r\n", id="one-header-line-at-a-time"
        ),
        # A path, not a method, trickles: "GGG..." is no HTTP method, and is refused at once.
        pytest.param(b"GET /", b"a", id="one-request-line-byte-at-a-time"),
    ],
)
async def test_a_slowloris_head_is_cut_off_at_the_head_deadline(
    ops_log: pytest.LogCaptureFixture, opening: bytes, trickle: bytes
) -> None:
    """A head that keeps trickling in (never idle 5 s) is answered 408 and closed at 0.5 s."""
    head_timeout = 0.5
    async with running_ops(head_timeout=head_timeout) as (ops, port):
        loop = asyncio.get_running_loop()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        connected = loop.time()
        answered = asyncio.create_task(read_to_eof(reader))
        sent = 0
        try:
            writer.write(opening)
            # One piece every 50 ms, until the server closes: the wait *is* the pacing.
            while not answered.done():
                writer.write(trickle)
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
                sent += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(answered), 0.05)
                assert loop.time() - connected < head_timeout + 3, "still connected"
            response = await answered
            elapsed = loop.time() - connected
        finally:
            answered.cancel()
            await close(writer)
        assert status_of(response) == 408
        assert head_timeout - 0.02 <= elapsed < head_timeout + 3
        assert sent >= 5, "the client kept the head alive by sending"
        await eventually(lambda: ops.active_connections == 0, 5, "the connection slot to be freed")
    assert_no_error_or_traceback(ops_log)


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(b"GET /" + b"a" * (70 * 1024) + b" HTTP/1.0\r\n\r\n", id="70KiB-line"),
        pytest.param(b"GET /" + b"a" * (10 * 1024) + b" HTTP/1.0\r\n\r\n", id="10KiB-line"),
        pytest.param(b"GET /" + b"a" * (70 * 1024), id="70KiB-line-unterminated"),
        # More than the socket buffers hold: read by the lingering close, not reset.
        pytest.param(b"GET /" + b"a" * (4 << 20) + b" HTTP/1.0\r\n\r\n", id="4MiB-line"),
        pytest.param(
            b"GET /healthz HTTP/1.0\r\nX-Big: " + b"b" * (70 * 1024) + b"\r\n\r\n",
            id="70KiB-header",
        ),
        pytest.param(
            b"GET /healthz HTTP/1.0\r\n" + (b"X-H: " + b"h" * 1000 + b"\r\n") * 30 + b"\r\n",
            id="30KiB-of-headers",
        ),
        pytest.param(
            b"GET /healthz HTTP/1.0\r\n" + b"X-H: 1\r\n" * 101 + b"\r\n", id="101-headers"
        ),
        pytest.param(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", id="not-http"),
    ],
)
async def test_an_oversized_head_is_refused_without_a_traceback(
    ops_log: pytest.LogCaptureFixture, request_bytes: bytes
) -> None:
    """Over a head limit (or not HTTP): 400, closed, nothing raised.

    400 is aiohttp's answer to any head over its limits (the line, one header, the header
    count); the total head budget answers the same. The client sends its whole request before
    reading: it must get the refusal, not a reset.
    """
    async with running_ops() as (ops, port):
        response = await exchange(port, request_bytes)
        assert status_of(response) == 400
        await eventually(lambda: ops.active_connections == 0, 5, "the connection slot to be freed")
        # The port still serves the next client.
        assert status_of(await exchange(port, b"GET /healthz HTTP/1.0\r\n\r\n")) == 200
    assert_no_error_or_traceback(ops_log)
    assert any(r.getMessage() == "ops_request_refused" for r in ops_log.records)


async def test_a_head_just_inside_the_limits_is_served(ops_log: pytest.LogCaptureFixture) -> None:
    """A long URI (query ignored) with 99 headers still gets its ordinary answer."""
    uri = b"/healthz?" + b"q" * 8000
    headers = b"".join(b"X-H-%d: %s\r\n" % (n, b"v" * 100) for n in range(99))
    async with running_ops() as (_, port):
        response = await exchange(port, b"GET " + uri + b" HTTP/1.0\r\n" + headers + b"\r\n")
    assert status_of(response) == 200
    assert response.endswith(b"\r\n\r\nok\n")
    assert_no_error_or_traceback(ops_log)


async def test_a_flood_of_idle_connections_is_capped_and_healthz_recovers(
    ops_log: pytest.LogCaptureFixture,
) -> None:
    """200 idle connections: 64 are held, the rest closed at once; freed slots serve /healthz."""
    cap, flood = 64, 200
    async with running_ops(max_connections=cap, head_timeout=60) as (ops, port):
        clients = [await asyncio.open_connection("127.0.0.1", port) for _ in range(flood)]
        eofs = [asyncio.create_task(read_to_eof(reader)) for reader, _ in clients]
        try:
            await eventually(
                lambda: ops.active_connections + ops.refused_connections == flood,
                10,
                "every connection to be accepted",
            )
            assert ops.active_connections == cap
            assert ops.refused_connections == flood - cap
            await eventually(
                lambda: sum(t.done() for t in eofs) == flood - cap,
                10,
                "the refused connections to be closed",
            )
            assert all(t.result() == b"" for t in eofs if t.done()), "refused ones are unanswered"

            # While the cap is full a fresh client is refused too, and not answered.
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(b"GET /healthz HTTP/1.0\r\n\r\n")
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
                    assert await asyncio.wait_for(read_to_eof(reader), 5) == b""
            finally:
                await close(writer)
            assert ops.refused_connections == flood - cap + 1

            # The held clients go away; their slots are released.
            for eof in eofs:
                eof.cancel()
            for _, held in clients:
                await close(held)
            await eventually(lambda: ops.active_connections == 0, 10, "the held slots to be freed")
        finally:
            for eof in eofs:
                eof.cancel()
            for _, writer in clients:
                await close(writer)

        async with httpx.AsyncClient(timeout=5) as http:
            healthz = await http.get(f"http://127.0.0.1:{port}/healthz")
        assert (healthz.status_code, healthz.text) == (200, "ok\n")
        assert ops.refused_connections == flood - cap + 1
    assert_no_error_or_traceback(ops_log)


async def test_a_client_that_never_reads_metrics_is_dropped_at_the_write_deadline(
    ops_log: pytest.LogCaptureFixture,
) -> None:
    """A /metrics answer far larger than the socket buffers, never read: aborted after 0.5 s."""
    body = b"# filler line of a very large exposition\n" * (400 * 1024)  # ~16 MiB
    ops = OpsServer(
        render_metrics=lambda _: Exposition(body, "text/plain"),
        readiness=lambda: (True, ""),
        write_timeout=0.5,
    )
    port = await ops.start("127.0.0.1", 0)
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        await loop.sock_sendall(sock, b"GET /metrics HTTP/1.0\r\n\r\n")
        await eventually(lambda: ops.active_connections == 1, 5, "the request to be served")
        async with httpx.AsyncClient(timeout=5) as http:  # the loop is not blocked meanwhile
            assert (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
        await eventually(lambda: ops.active_connections == 0, 5, "the stuck writer to be dropped")

        # Only now read: the answer was cut short, not delivered.
        received = 0
        with contextlib.suppress(ConnectionError):
            while chunk := await asyncio.wait_for(loop.sock_recv(sock, 1 << 20), 5):
                received += len(chunk)
        assert 0 < received < len(body)
    finally:
        sock.close()
        await ops.stop()
    assert_no_error_or_traceback(ops_log)


async def test_stop_drops_the_connections_still_being_served() -> None:
    """stop() does not leave a connection (or its task) behind waiting for its head."""
    ops = OpsServer(render_metrics=RelayMetrics().render, readiness=lambda: (True, ""))
    port = await ops.start("127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /healthz HTTP/1.0\r\n")
        await writer.drain()
        await eventually(lambda: ops.active_connections == 1, 5, "the connection to be served")
        await asyncio.wait_for(ops.stop(), 5)
        assert ops.active_connections == 0
        with contextlib.suppress(ConnectionError):
            assert await asyncio.wait_for(read_to_eof(reader), 5) == b""
    finally:
        await close(writer)


async def test_a_slow_metrics_render_holds_neither_the_loop_nor_the_port(
    ops_log: pytest.LogCaptureFixture,
) -> None:
    """While a render is stuck, /healthz answers; past the handler deadline the scrape gets 504."""
    entered, release = threading.Event(), threading.Event()

    def stuck_render(_: str) -> Exposition:
        entered.set()
        release.wait(10)
        return Exposition(b"# late\n", "text/plain")

    ops = OpsServer(render_metrics=stuck_render, readiness=lambda: (True, ""), handler_timeout=2)
    port = await ops.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            scrape = asyncio.create_task(http.get("/metrics"))
            await eventually(entered.is_set, 5, "the render to start")
            healthz = await asyncio.wait_for(http.get("/healthz"), 1.5)
            assert (healthz.status_code, healthz.text) == (200, "ok\n")
            assert not scrape.done()
            assert (await scrape).status_code == 504
    finally:
        release.set()
        await ops.stop()
    assert_no_error_or_traceback(ops_log)


class LoopLateness:
    """How late the event loop runs a callback due every `period` seconds (not a wait)."""

    def __init__(self, period: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._period = period
        self._due = self._loop.time() + period
        self._handle = self._loop.call_at(self._due, self._tick)
        self.worst = 0.0
        self.ticks = 0

    def _tick(self) -> None:
        now = self._loop.time()
        self.worst = max(self.worst, now - self._due)
        self.ticks += 1
        self._due = now + self._period
        self._handle = self._loop.call_at(self._due, self._tick)

    def stop(self) -> None:
        self._handle.cancel()


async def test_a_mix_of_hostile_clients_does_not_stall_the_event_loop(
    ops_log: pytest.LogCaptureFixture,
) -> None:
    """Slowloris heads, 4 MiB request lines and unread /metrics at once: the loop stays on time."""
    body = b"# filler line of a very large exposition\n" * (100 * 1024)  # ~4 MiB
    ops = OpsServer(
        render_metrics=lambda _: Exposition(body, "text/plain"),
        readiness=lambda: (True, ""),
        head_timeout=1,
        write_timeout=1,
    )
    port = await ops.start("127.0.0.1", 0)
    lateness = LoopLateness(0.01)
    held: list[asyncio.StreamWriter] = []
    try:
        for _ in range(20):  # slowloris heads, cut off at the head deadline
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.0\r\nX-Slow: 1\r\n")
            held.append(writer)
        for _ in range(10):  # /metrics answers nobody reads, dropped at the write deadline
            _, writer = await asyncio.open_connection("127.0.0.1", port, limit=1024)
            writer.write(b"GET /metrics HTTP/1.0\r\n\r\n")
            held.append(writer)
        oversized = b"GET /" + b"a" * (4 << 20) + b" HTTP/1.0\r\n\r\n"
        refusals = await asyncio.gather(*(exchange(port, oversized) for _ in range(10)))
        assert {status_of(r) for r in refusals} == {400}
        async with httpx.AsyncClient(timeout=5) as http:
            assert (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
        await eventually(lambda: ops.active_connections == 0, 10, "every hostile client dropped")
    finally:
        lateness.stop()
        for writer in held:
            await close(writer)
        await ops.stop()
    assert lateness.ticks > 50
    assert lateness.worst < 0.5, f"the event loop ran {lateness.worst:.3f} s late"
    assert_no_error_or_traceback(ops_log)


SIGNALS = 200


async def attack(port: int, stop: asyncio.Event) -> int:
    """Waves of 1 MiB heads, unread scrapes and slowloris heads past the cap, until `stop`."""
    held: list[asyncio.StreamWriter] = []
    waves = 0
    requests = [b"GET /" + b"a" * (1 << 20) + b" HTTP/1.0\r\n\r\n"] * 5
    requests += [b"GET /metrics HTTP/1.0\r\n\r\n"] * 5  # read by nobody (tiny reader limit)
    requests += [b"GET /metrics HTTP/1.0\r\nX-Slow: 1\r\n"] * 70  # more than the cap
    try:
        while not stop.is_set():
            for request in requests:
                with contextlib.suppress(ConnectionError):
                    _, writer = await asyncio.open_connection("127.0.0.1", port, limit=1024)
                    writer.write(request)
                    held.append(writer)
            waves += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)  # the pacing of the waves
            for writer in held:
                await close(writer)
            held.clear()
    finally:
        for writer in held:
            await close(writer)
    return waves


async def test_deliveries_go_on_while_the_ops_port_is_attacked(
    ops_log: pytest.LogCaptureFixture,
    kafka_bootstrap: str,
    new_topic: TopicFactory,
    receiver: RunningReceiver,
) -> None:
    """Waves of hostile clients on the ops port: 200 signals delivered and committed, on time."""
    topic = await new_topic(2)
    await ensure_topic(kafka_bootstrap, f"{topic}.dlq")
    port = free_port()
    settings = relay_settings(
        kafka_bootstrap,
        topic,
        receiver.url,
        RELAY_METRICS_PORT=port,
        RELAY_METRICS_HOST="127.0.0.1",
    )
    ledger = receiver.app.ledger
    stop = asyncio.Event()
    async with running_relay(settings):
        lateness = LoopLateness(0.01)
        attacker = asyncio.create_task(attack(port, stop))
        try:
            published = await publish(
                kafka_bootstrap, topic, keyed_signals([f"K{i}" for i in range(8)], SIGNALS // 8)
            )
            arrived = await asyncio.to_thread(
                ledger.wait_until, lambda led: led.accepted_count >= SIGNALS, 60
            )
            assert arrived, f"only {ledger.accepted_count} of {SIGNALS} signals arrived"
            expected = end_offsets(published)

            async def all_committed() -> bool:
                offsets = await committed_offsets(kafka_bootstrap, settings.group_id, topic)
                return offsets == expected

            await eventually_async(all_committed, 30, "every offset committed")
            assert not attacker.done(), "the attack ran for the whole delivery"
        finally:
            stop.set()
            waves = await attacker
            lateness.stop()
        async with httpx.AsyncClient(timeout=5) as http:
            assert (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200

    assert waves >= 1
    assert len(ledger.accepted) == SIGNALS
    assert lateness.worst < 0.5, f"the event loop ran {lateness.worst:.3f} s late"
    assert_no_error_or_traceback(ops_log)
    assert not [
        r for r in ops_log.records if r.name.startswith("aiohttp") and r.levelno >= logging.WARNING
    ]
