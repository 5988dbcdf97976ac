"""Mutual TLS to the server: the right certificate delivers; none or a foreign one pauses.

The server is the reference receiver behind a TLS front on loopback that requires a client
certificate from the test's CA (made by trustme). A refused certificate is the relay's fault,
not a record's: a systemic pause (nothing dead-lettered, nothing committed, /readyz fails) with
one attempt per probe interval, never a retry storm or a DLQ flood.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import RunningReceiver, TopicFactory, eventually, eventually_async
from relay_harness import (
    PRODUCER_ID,
    SECRET,
    end_offsets,
    free_port,
    keyed_signals,
    publish,
    relay_settings,
    running_relay,
    signal,
)
from tls_front import Certificates, TlsFront, make_certificates, tls_front

from consumer.tools import committed_offsets, read_topic
from schemas import SignalIngestResponse
from signing import HmacClient, OutboundConfig, OutboundSystemicError

PROBE_SECONDS = 1.0


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    """A CA, a server certificate for 127.0.0.1, a client of that CA and a foreign client."""
    return make_certificates(tmp_path)


@pytest.fixture
def front(certificates: Certificates, receiver: RunningReceiver) -> Iterator[TlsFront]:
    """The reference receiver behind TLS that requires a client certificate of the CA."""
    parts = urlsplit(receiver.url)
    with tls_front(certificates, (parts.hostname or "", parts.port or 0)) as running:
        yield running


def _client_files(certificates: Certificates, which: str) -> dict[str, str]:
    if which == "right":
        cert, key = certificates.client_cert, certificates.client_key
    elif which == "foreign":
        cert, key = certificates.foreign_cert, certificates.foreign_key
    else:
        return {}
    return {"OUTBOUND_TLS_CERT_FILE": str(cert), "OUTBOUND_TLS_KEY_FILE": str(key)}


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
async def test_the_right_client_certificate_delivers(
    kafka_bootstrap: str,
    new_topic: TopicFactory,
    receiver: RunningReceiver,
    certificates: Certificates,
    front: TlsFront,
    transport: str,
) -> None:
    """With the CA's client certificate every record is delivered and committed."""
    topic = await new_topic(2)
    published = await publish(kafka_bootstrap, topic, keyed_signals(["A", "B"], 3))
    settings = relay_settings(
        kafka_bootstrap,
        topic,
        f"https://127.0.0.1:{front.port}",
        OUTBOUND_HTTP_TRANSPORT=transport,
        OUTBOUND_TLS_CA_FILE=str(certificates.ca_file),
        **_client_files(certificates, "right"),
    )

    async def all_committed() -> bool:
        expected = end_offsets(published)
        return await committed_offsets(kafka_bootstrap, settings.group_id, topic) == expected

    async with running_relay(settings):
        await eventually_async(all_committed, 60, "every record to be delivered and committed")

    assert receiver.app.ledger.accepted_count == len(published)
    assert front.counted()[1] == 0


@pytest.mark.parametrize(
    ("which", "transport"),
    [("none", "aiohttp"), ("none", "httpx"), ("foreign", "aiohttp"), ("foreign", "httpx")],
)
async def test_a_refused_client_certificate_pauses_without_dead_letters(
    kafka_bootstrap: str,
    new_topic: TopicFactory,
    receiver: RunningReceiver,
    certificates: Certificates,
    front: TlsFront,
    which: str,
    transport: str,
) -> None:
    """No certificate, or one of another CA: paused, not ready, one try per probe, no DLQ."""
    topic = await new_topic(2)
    await publish(kafka_bootstrap, topic, keyed_signals(["A", "B", "C"], 3))
    port = free_port()
    settings = relay_settings(
        kafka_bootstrap,
        topic,
        f"https://127.0.0.1:{front.port}",
        OUTBOUND_HTTP_TRANSPORT=transport,
        OUTBOUND_TLS_CA_FILE=str(certificates.ca_file),
        RELAY_SYSTEMIC_PROBE_SECONDS=PROBE_SECONDS,
        RELAY_METRICS_PORT=port,
        RELAY_METRICS_HOST="127.0.0.1",
        **_client_files(certificates, which),
    )
    loop = asyncio.get_running_loop()

    async with running_relay(settings) as relay, httpx.AsyncClient() as http:
        await eventually(lambda: not relay.gate.is_open, 30, "the systemic gate to close")
        assert "ALERT" in relay.gate.reason
        ready = await http.get(f"http://127.0.0.1:{port}/readyz")
        assert ready.status_code == 503

        # The rate of handshakes while paused: a few probes' worth, timed, never a storm.
        before, started = front.counted()[0], loop.time()
        await eventually(lambda: front.counted()[0] >= before + 4, 60, "four more handshakes")
        handshakes, elapsed = front.counted()[0] - before, loop.time() - started
        # At most two handshakes per probe (httpx: the attempt, then the bare handshake that
        # reads the alert httpx lost), one probe per interval, plus the one under way.
        assert handshakes <= 2 * (elapsed / PROBE_SECONDS + 1), (handshakes, elapsed)

    handshakes, refused = front.counted()
    assert refused == handshakes
    assert receiver.app.ledger.accepted_count == 0
    assert await committed_offsets(kafka_bootstrap, settings.group_id, topic) == {}
    assert await read_topic(kafka_bootstrap, settings.dlq_topic, timeout=2) == []


def _config(certificates: Certificates, front: TlsFront, which: str) -> OutboundConfig:
    files = _client_files(certificates, which)
    return OutboundConfig(
        producer_id=PRODUCER_ID,
        producer_secret=SECRET,
        server_base_url=f"https://127.0.0.1:{front.port}",
        tls_ca_file=str(certificates.ca_file),
        tls_cert_file=files.get("OUTBOUND_TLS_CERT_FILE"),
        tls_key_file=files.get("OUTBOUND_TLS_KEY_FILE"),
    )


async def test_hmac_client_with_the_right_certificate_gets_201(
    certificates: Certificates, front: TlsFront, receiver: RunningReceiver
) -> None:
    """HmacClient presents OutboundConfig's client certificate; the server accepts it."""
    async with HmacClient(_config(certificates, front, "right")) as client:
        answer = await client.post_signal(signal("EURUSD", 1))
    assert isinstance(answer, SignalIngestResponse)
    assert receiver.app.ledger.accepted_count == 1


@pytest.mark.parametrize("which", ["none", "foreign"])
async def test_hmac_client_without_an_accepted_certificate_raises_systemic(
    certificates: Certificates, front: TlsFront, which: str
) -> None:
    """Without an accepted certificate HmacClient raises OutboundSystemicError naming TLS."""
    async with HmacClient(_config(certificates, front, which)) as client:
        with pytest.raises(OutboundSystemicError, match="TLS refused") as caught:
            await client.post_signal(signal("EURUSD", 1))
    assert caught.value.details.startswith(("TLSV13_ALERT", "TLSV1_ALERT"))
    assert not caught.value.retriable


def test_outbound_config_from_env_reads_the_client_certificate(
    certificates: Certificates, tmp_path: Path
) -> None:
    """OutboundConfig.from_env takes the relay's OUTBOUND_TLS_* variables; the password hides."""
    password_file = tmp_path / "password"
    password_file.write_text("not-needed\n")
    config = OutboundConfig.from_env(
        {
            "PRODUCER_ID": PRODUCER_ID,
            "HMAC_PRODUCER_SECRET": SECRET,
            "OUTBOUND_SERVER_URL": "https://127.0.0.1:1",
            "OUTBOUND_TLS_CA_FILE": str(certificates.ca_file),
            "OUTBOUND_TLS_CERT_FILE": str(certificates.client_cert),
            "OUTBOUND_TLS_KEY_FILE": str(certificates.client_key),
            "OUTBOUND_TLS_KEY_PASSWORD_FILE": str(password_file),
        }
    )
    assert config.tls_cert_file == str(certificates.client_cert)
    assert config.tls_key_password == b"not-needed"
    assert "not-needed" not in repr(config)
