"""Both HTTP transports go through the environment's proxy alike, honour NO_PROXY, sign alike.

A real forward proxy on loopback counts absolute-URI requests (an `http` server) and CONNECT
tunnels (an `https` one, here behind a TLS front that also requires the client certificate).
The reference receiver verifies every signature: the proxy changes nothing that is signed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import RunningReceiver
from forward_proxy import ForwardProxy, forward_proxy
from relay_harness import encode, relay_settings, signal
from tls_front import Certificates, make_certificates, tls_front

from consumer.adapters import HttpSender, build_http_client
from consumer.config import Settings
from consumer.ops import RelayMetrics
from schemas.record import parse_candidate
from signing.canonical import canonical_body

TRANSPORTS = ["aiohttp", "httpx"]
_PROXY_VARIABLES = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"]


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ForwardProxy]:
    """A counting forward proxy, and an environment without any other proxy setting."""
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    with forward_proxy() as running:
        yield running


async def _post_one(settings: Settings) -> int | None:
    """One signed POST through the relay's own client and sender; the status that came back."""
    client = build_http_client(settings)
    try:
        sender = HttpSender(settings, client, RelayMetrics())
        result = await sender.send(canonical_body(parse_candidate(encode(signal("EURUSD", 1)))))
    finally:
        await client.aclose()
    return result.status


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_http_proxy_carries_the_post_to_an_http_server(
    proxy: ForwardProxy,
    receiver: RunningReceiver,
    monkeypatch: pytest.MonkeyPatch,
    transport: str,
) -> None:
    """HTTP_PROXY: the POST goes to the proxy as an absolute URI; the signature still verifies."""
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    settings = relay_settings("127.0.0.1:1", "t", receiver.url, OUTBOUND_HTTP_TRANSPORT=transport)

    assert await _post_one(settings) == 201
    assert proxy.requests == [f"POST {settings.ingest_url}"]
    assert receiver.app.ledger.accepted_count == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_no_proxy_sends_the_post_directly(
    proxy: ForwardProxy,
    receiver: RunningReceiver,
    monkeypatch: pytest.MonkeyPatch,
    transport: str,
) -> None:
    """A host in NO_PROXY is reached directly, with HTTP_PROXY set, on either transport."""
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "example.com,127.0.0.1")
    settings = relay_settings("127.0.0.1:1", "t", receiver.url, OUTBOUND_HTTP_TRANSPORT=transport)

    assert await _post_one(settings) == 201
    assert proxy.requests == []
    assert proxy.tunnels == []
    assert receiver.app.ledger.accepted_count == 1


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    """A CA, a server certificate for 127.0.0.1 and a client certificate of that CA."""
    return make_certificates(tmp_path)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_https_proxy_tunnels_mutual_tls_to_an_https_server(
    proxy: ForwardProxy,
    receiver: RunningReceiver,
    certificates: Certificates,
    monkeypatch: pytest.MonkeyPatch,
    transport: str,
) -> None:
    """HTTPS_PROXY: one CONNECT tunnel, TLS (with the client certificate) end to end inside."""
    parts = urlsplit(receiver.url)
    with tls_front(certificates, (parts.hostname or "", parts.port or 0)) as front:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        settings = relay_settings(
            "127.0.0.1:1",
            "t",
            f"https://127.0.0.1:{front.port}",
            OUTBOUND_HTTP_TRANSPORT=transport,
            OUTBOUND_TLS_CA_FILE=str(certificates.ca_file),
            OUTBOUND_TLS_CERT_FILE=str(certificates.client_cert),
            OUTBOUND_TLS_KEY_FILE=str(certificates.client_key),
        )

        assert await _post_one(settings) == 201

    assert proxy.tunnels == [f"127.0.0.1:{front.port}"]
    assert proxy.requests == []
    assert receiver.app.ledger.accepted_count == 1
