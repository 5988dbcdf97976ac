"""HmacClient and the relay are one delivery path: the same request bytes, the same decisions."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import orjson
import pytest
from hostile_server import Answer, HostileServer, Received, always, answer, hostile_server
from relay_harness import PRODUCER_ID, SECRET, encode, relay_settings, signal

from consumer.adapters import AttemptResult, HttpSender, build_http_client
from consumer.ops import RelayMetrics
from consumer.service import classify, prepare_signal
from signing import HmacClient, OutboundClientError, OutboundConfig, OutboundRetriableError

NOW = 1_800_000_000.123
SIGNED_HEADERS = (
    "Content-Type",
    "X-Producer-Id",
    "X-Timestamp",
    "X-Signature",
    "X-Idempotency-Key",
    "User-Agent",
)
RELAY_READ_IT = -1.0  # the relay's wait is not comparable: the client saw no answer
INGEST_RESPONSE = orjson.dumps(
    {
        "signal_id": "0b8f7a52-3c1e-4c4b-9d0e-6f1a2b3c4d5e",
        "status": "received",
        "server_timestamp": "2027-01-15T08:00:00Z",
    }
)


@pytest.fixture
def server() -> Iterator[HostileServer]:
    """A loopback server that records every request and answers a 201 until told otherwise."""
    with hostile_server(always(answer(201, body=INGEST_RESPONSE))) as running:
        yield running


@asynccontextmanager
async def relay_sender(url: str, transport: str) -> AsyncIterator[HttpSender]:
    """The relay's own sender (and HTTP client) for `url`, signing at NOW."""
    settings = relay_settings("127.0.0.1:9", "t", url, OUTBOUND_HTTP_TRANSPORT=transport)
    client = build_http_client(settings)
    try:
        yield HttpSender(settings, client, RelayMetrics(), clock=lambda: NOW)
    finally:
        await client.aclose()


def hmac_client(url: str) -> HmacClient:
    """The library client for `url` with the relay tests' producer and secret, signing at NOW."""
    config = OutboundConfig(producer_id=PRODUCER_ID, producer_secret=SECRET, server_base_url=url)
    return HmacClient(config, clock=lambda: NOW)


def _what_matters(request: Received) -> tuple[object, ...]:
    return (
        request.method,
        request.path,
        request.body,
        tuple((name, request.header(name)) for name in SIGNED_HEADERS),
    )


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
async def test_the_client_and_the_relay_send_byte_identical_requests(
    server: HostileServer, transport: str
) -> None:
    """Same signal, same instant: method, path, body and signed headers are byte for byte equal."""
    raw = encode(signal("EURUSD", 1, entry_price=100.250, take_profit="102.0"))
    async with relay_sender(server.url, transport) as sender:
        result = await sender.send(prepare_signal(raw, 65536).signal)
    async with hmac_client(server.url) as client:
        await client.post_signal(raw)

    assert result.status == 201
    relayed, posted = server.snapshot()
    assert _what_matters(posted) == _what_matters(relayed)
    assert None not in [posted.header(name) for name in SIGNED_HEADERS]


def _answer_for(status: int, retry_after: str = "7") -> Answer:
    body = INGEST_RESPONSE if status == 201 else b'{"error":"scripted"}'
    if status < 200 or status in {204, 205, 304}:
        body = b""  # HTTP allows these no content
    reply = answer(status, headers=[(b"Retry-After", retry_after.encode())], body=body)
    # One connection per answer: an interim 1xx is no final answer, and no status may
    # leave anything behind for the next request on the same connection.
    return dataclasses.replace(reply, keep_alive=False)


async def _client_outcome(client: HmacClient, raw: bytes) -> tuple[str, float | None]:
    try:
        await client.post_signal(raw, timeout=5)
    except OutboundRetriableError as exc:
        # Without an answer (an interim 1xx only, which httpx does not surface) no header was read.
        return exc.outcome, exc.retry_after if exc.http_code is not None else RELAY_READ_IT
    except OutboundClientError as exc:
        return exc.outcome, None
    return "delivered", None


def _relay_outcome(result: AttemptResult) -> tuple[str, float | None]:
    decision = classify(result.status, result.headers)
    return decision.outcome.value, decision.retry_after


def _agree(ours: tuple[str, float | None], relay: tuple[str, float | None]) -> bool:
    return ours[0] == relay[0] and ours[1] in {relay[1], RELAY_READ_IT}


async def test_every_status_gets_the_relay_s_decision(server: HostileServer) -> None:
    """Each status 100-599: the client's result names the outcome the relay's classify picks."""
    raw = encode(signal("EURUSD", 2))
    disagreements: dict[int, object] = {}
    async with relay_sender(server.url, "aiohttp") as sender, hmac_client(server.url) as client:
        prepared = prepare_signal(raw, 65536).signal
        for status in range(100, 600):
            server.set(always(_answer_for(status)))
            relay = _relay_outcome(await sender.send(prepared))
            ours = await _client_outcome(client, raw)
            if not _agree(ours, relay):
                disagreements[status] = (ours, relay)

    assert disagreements == {}


def _http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


async def test_retry_after_is_read_as_the_relay_reads_it(server: HostileServer) -> None:
    """A 503's Retry-After, well-formed or not, gives the client the relay's wait (or none)."""
    soon = datetime.now(UTC) + timedelta(seconds=90)
    values = [
        "0",
        "120",
        "1.5",
        "-5",
        "\u00b2",
        "soon",
        "9" * 70,
        "Wed, 21 Oct 2015 07:28:00 GMT",
        "Sun Nov  6 08:49:37 1994",
        _http_date(soon),
    ]
    raw = encode(signal("EURUSD", 3))
    async with relay_sender(server.url, "aiohttp") as sender, hmac_client(server.url) as client:
        prepared = prepare_signal(raw, 65536).signal
        for value in values:
            server.set(always(_answer_for(503, value)))
            relay_outcome, relay_wait = _relay_outcome(await sender.send(prepared))
            outcome, wait = await _client_outcome(client, raw)
            assert (outcome, relay_outcome) == ("retry", "retry"), value
            if relay_wait is None:
                assert wait is None, value
            else:
                assert wait == pytest.approx(relay_wait, abs=2), value
