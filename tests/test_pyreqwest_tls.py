"""`OUTBOUND_HTTP_TRANSPORT=pyreqwest` verifies the server like the others, or is refused."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from relay_harness import relay_settings
from tls_front import make_certificates

from consumer.adapters import build_http_client
from consumer.config import ConfigError, load_settings
from consumer.config import Settings as _Settings

SECRET = "pyreqwest-tls-secret-0123456789"


@contextlib.asynccontextmanager
async def _https_server(server_cert: trustme.LeafCert) -> AsyncIterator[str]:
    """An HTTPS server on loopback answering 201 to each request; yields its URL."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(context)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ssl.SSLError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    async with server:
        yield f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}"


def _settings(url: str, **overrides: str) -> _Settings:
    return relay_settings("127.0.0.1:9", "t", url, OUTBOUND_HTTP_TRANSPORT="pyreqwest", **overrides)


async def test_an_unknown_ca_is_a_transport_error_and_verify_false_accepts_it(
    tmp_path: Path,
) -> None:
    """System roots: a self-signed server is no answer (retried); `VERIFY=false` gets its 201."""
    certs = make_certificates(tmp_path)
    async with _https_server(certs.server) as url:
        verifying = build_http_client(_settings(url))
        try:
            with pytest.raises(OSError, match="Connect"):
                await verifying.post(f"{url}/in", b"{}", {})
        finally:
            await verifying.aclose()
        trusting = build_http_client(_settings(url, OUTBOUND_TLS_VERIFY="false"))
        try:
            assert (await trusting.post(f"{url}/in", b"{}", {})).status == 201
        finally:
            await trusting.aclose()


def test_a_ca_bundle_is_refused_with_pyreqwest(tmp_path: Path) -> None:
    """reqwest would trust the system's CAs beside the bundle: refused in one line, at start."""
    certs = make_certificates(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {
                "HMAC_PRODUCER_SECRET": SECRET,
                "PRODUCER_ID": "desk-1",
                "OUTBOUND_SERVER_URL": "https://127.0.0.1:8443",
                "OUTBOUND_HTTP_TRANSPORT": "pyreqwest",
                "OUTBOUND_TLS_CA_FILE": str(certs.ca_file),
            }
        )
    assert caught.value.variable == "OUTBOUND_HTTP_TRANSPORT"
    assert "OUTBOUND_TLS_CA_FILE" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_client_certificate_settings_it_cannot_honour_refuse_the_transport() -> None:
    """A key password (or any client-certificate field it does not know) is refused, not dropped."""

    class WithKeyPassword(_Settings):
        tls_key_password_file: str | None = None

    base = _settings("https://127.0.0.1:8443")
    settings = WithKeyPassword.model_construct(
        **dict(base), tls_key_password_file="/run/secrets/key-password"
    )
    with pytest.raises(ValueError, match="tls_key_password_file"):
        build_http_client(settings)
