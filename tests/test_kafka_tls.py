"""Kafka over TLS with a client certificate: the relay consumes through a TLS front; without it, no.

Tansu speaks plaintext, so it runs behind a TLS front on loopback that requires a client
certificate of the test's CA, and advertises the front's port as its listener: every Kafka
connection (bootstrap, group coordinator, fetches, the DLQ producer) goes through TLS.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from conftest import RunningReceiver, eventually_async
from relay_harness import free_port, keyed_signals, relay_env
from tls_front import Certificates, TlsFront, make_certificates, tls_front

from consumer.adapters import kafka_client_options
from consumer.config import load_kafka_security, load_settings
from consumer.devkit import tansu_broker
from consumer.service import Relay, RelayStartError
from signing._tls import handshake_refusal


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    """A CA, a server certificate for 127.0.0.1, a client of that CA and a foreign client."""
    return make_certificates(tmp_path)


def _tls_env(certificates: Certificates, *, with_client_cert: bool = True) -> dict[str, str]:
    env = {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CAFILE": str(certificates.ca_file)}
    if with_client_cert:
        env["KAFKA_SSL_CERTFILE"] = str(certificates.client_cert)
        env["KAFKA_SSL_KEYFILE"] = str(certificates.client_key)
    return env


async def test_the_options_present_the_client_certificate(certificates: Certificates) -> None:
    """kafka_client_options builds an SSL context that loads and presents the client chain."""
    with tls_front(certificates, ("127.0.0.1", 9)) as front:
        url = f"https://127.0.0.1:{front.port}"
        with_cert = kafka_client_options(load_kafka_security(_tls_env(certificates)))
        without = kafka_client_options(
            load_kafka_security(_tls_env(certificates, with_client_cert=False))
        )
        assert await handshake_refusal(url, with_cert["ssl_context"]) is None
        assert await handshake_refusal(url, without["ssl_context"]) == (
            "TLSV13_ALERT_CERTIFICATE_REQUIRED"
        )
    assert front.counted() == (2, 1)


@pytest.fixture
def tls_broker(certificates: Certificates) -> Iterator[tuple[str, TlsFront]]:
    """A Tansu broker reachable only through a TLS front requiring a client certificate."""
    front_port = free_port()
    with tansu_broker(advertised=f"127.0.0.1:{front_port}") as address:
        host, port = address.rsplit(":", 1)
        with tls_front(certificates, (host, int(port)), port=front_port) as front:
            yield f"127.0.0.1:{front_port}", front


async def _create_topics(bootstrap: str, options: dict[str, Any], *names: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **options)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 2, 1) for name in names])
    finally:
        await admin.close()


async def _publish(bootstrap: str, options: dict[str, Any], topic: str) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **options)
    await producer.start()
    try:
        records = keyed_signals(["A", "B"], 3)
        for key, value in records:
            await producer.send_and_wait(topic, value=value, key=key)
        return len(records)
    finally:
        await producer.stop()


async def test_the_relay_consumes_through_tls_with_a_client_certificate(
    tls_broker: tuple[str, TlsFront],
    certificates: Certificates,
    receiver: RunningReceiver,
) -> None:
    """With KAFKA_SSL_CERTFILE/KEYFILE the relay joins, delivers and commits over TLS."""
    bootstrap, front = tls_broker
    topic = f"tls-{uuid.uuid4().hex[:12]}"
    env = relay_env(bootstrap, topic, receiver.url, **_tls_env(certificates))
    settings = load_settings(env)
    options = kafka_client_options(settings.kafka_security)
    await _create_topics(bootstrap, options, topic, settings.dlq_topic)
    count = await _publish(bootstrap, options, topic)

    relay = Relay(settings)
    task = asyncio.create_task(relay.run())
    try:

        async def all_delivered() -> bool:
            assert not task.done(), task
            return receiver.app.ledger.accepted_count == count

        await eventually_async(all_delivered, 90, "every record delivered over Kafka TLS")
    finally:
        relay.request_stop()
        await asyncio.wait_for(task, 60)
    assert front.counted()[1] == 0


async def test_the_relay_without_a_client_certificate_fails_start_up_in_one_line(
    tls_broker: tuple[str, TlsFront],
    certificates: Certificates,
    receiver: RunningReceiver,
) -> None:
    """Without the client certificate start-up fails with one line naming the TLS refusal."""
    bootstrap, front = tls_broker
    env = relay_env(
        bootstrap, "tls-none", receiver.url, **_tls_env(certificates, with_client_cert=False)
    )
    relay = Relay(load_settings(env))
    with pytest.raises(RelayStartError) as caught:
        await asyncio.wait_for(relay.run(), 120)
    message = str(caught.value)
    assert "\n" not in message
    assert "TLSV13_ALERT_CERTIFICATE_REQUIRED" in message
    assert "KAFKA_SSL_CERTFILE" in message
    assert front.counted()[1] >= 1
