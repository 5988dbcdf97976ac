"""`signal-relay check` makes the TLS handshake the relay would: trusted CA ok, unknown CA FAIL."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import trustme
from check_command import run_check, verdicts
from conftest import TopicFactory
from relay_harness import relay_env
from tls_front import make_certificates


@contextlib.asynccontextmanager
async def _https_server(server_cert: trustme.LeafCert) -> AsyncIterator[tuple[str, list[bytes]]]:
    """An HTTPS server on loopback answering 204 to anything; yields its URL and request lines."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(context)
    seen: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ssl.SSLError):
            seen.append(await reader.readline())
            writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"https://127.0.0.1:{port}", seen


async def test_a_server_whose_ca_is_configured_passes_the_handshake(
    kafka_bootstrap: str, new_topic: TopicFactory, tmp_path: Path
) -> None:
    """With OUTBOUND_TLS_CA_FILE naming its CA: `ok server` (TLS, verified), an OPTIONS only."""
    topic = await new_topic(1)
    certs = make_certificates(tmp_path)
    async with _https_server(certs.server) as (url, seen):
        env = relay_env(kafka_bootstrap, topic, url, OUTBOUND_TLS_CA_FILE=str(certs.ca_file))
        status, lines = await run_check(env)
    assert status == 0, lines
    assert lines[-1].startswith(f"ok   server: {url} answered (TLSv1.")
    assert lines[-1].endswith("certificate verified; OPTIONS: HTTP 204)")
    assert seen == [b"OPTIONS /api/v1/signals/ingest HTTP/1.1\r\n"]


async def test_a_server_with_an_unknown_ca_fails_the_handshake(
    kafka_bootstrap: str, new_topic: TopicFactory, tmp_path: Path
) -> None:
    """Without the CA: `FAIL server` naming the verification failure, exit 1, nothing sent."""
    topic = await new_topic(1)
    certs = make_certificates(tmp_path)
    async with _https_server(certs.server) as (url, seen):
        status, lines = await run_check(relay_env(kafka_bootstrap, topic, url))
    assert status == 1
    assert [name for name, verdict in verdicts(lines).items() if verdict == "FAIL"] == ["server"]
    assert "CERTIFICATE_VERIFY_FAILED" in lines[-1]
    assert seen == [] or seen == [b""]
