"""The Standard Webhooks profile: what the `standardwebhooks` library from PyPI accepts.

The relay's requests are checked with an implementation nobody here wrote
(`standardwebhooks.webhooks.Webhook.verify`), on a real server on loopback fed by a real relay
and broker; the project's verifier and the reference receiver accept the same requests.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from conftest import TopicFactory, eventually
from relay_harness import keyed_signals, publish, relay_settings, running_relay
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from consumer.config import ConfigError, load_settings
from schemas.record import parse_candidate
from schemas.response import SignalIngestResponse
from signing import (
    HmacClient,
    OutboundConfig,
    SignatureMismatchError,
    SignatureVerifier,
    WebhookSigner,
    canonical_body,
)
from signing.receiver import ReceiverConfig, create_app, serve_in_thread
from signing.signature import DEFAULT_ENDPOINT

KEY = secrets.token_bytes(32)
WHSEC = "whsec_" + base64.b64encode(KEY).decode()
OTHER_WHSEC = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
RAW_SECRET = "raw-secret-0123456789abcdef"
SIGNAL = {"instrument": "XAUUSD", "side": "buy", "entry_price": "1", "confidence": "0.5"}


def _sample(at: float) -> tuple[bytes, dict[str, str]]:
    signal = canonical_body(parse_candidate(orjson.dumps({**SIGNAL, "instrument": "EURUSD"})))
    return signal.body, WebhookSigner(WHSEC).headers(signal.body, signal_id=signal.signal_id, at=at)


def test_the_library_accepts_a_signed_request() -> None:
    """A `whsec_` secret: the library verifies the headers and body the signer produced."""
    body, headers = _sample(time.time())
    assert Webhook(WHSEC).verify(body, headers) is not None
    assert headers["webhook-id"] == headers["webhook-id"].lower()
    assert headers["webhook-signature"].startswith("v1,")
    with pytest.raises(WebhookVerificationError):
        Webhook(OTHER_WHSEC).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(WHSEC).verify(body.replace(b"EURUSD", b"GBPUSD"), headers)


def test_a_raw_secret_is_its_bytes() -> None:
    """A secret without `whsec_` signs with its raw bytes, as the library given those bytes."""
    body = b'{"signal_id":"6f1c0a52-6f8e-4e1b-9d55-0d3e4bb2a001"}'
    headers = WebhookSigner(RAW_SECRET).headers(
        body, signal_id="6f1c0a52-6f8e-4e1b-9d55-0d3e4bb2a001", at=time.time()
    )
    Webhook(RAW_SECRET.encode()).verify(body, headers, json_parse=False)


def test_the_verifier_accepts_both_profiles_and_rejects_a_foreign_key() -> None:
    """SignatureVerifier takes a Standard Webhooks request with the same secrets and checks."""
    body, headers = _sample(time.time())
    verified = SignatureVerifier([OTHER_WHSEC, WHSEC]).verify(
        method="POST", path=DEFAULT_ENDPOINT, headers=headers, body=body
    )
    assert verified.signal_id == headers["webhook-id"] == verified.idempotency_key
    with pytest.raises(SignatureMismatchError):
        SignatureVerifier([OTHER_WHSEC]).verify(
            method="POST", path=DEFAULT_ENDPOINT, headers=headers, body=body
        )


def test_a_whsec_secret_that_is_not_base64_is_a_configuration_error() -> None:
    """OUTBOUND_SIGNING_PROFILE=standard-webhooks refuses a `whsec_` secret it cannot decode."""
    env = {
        "PRODUCER_ID": "p",
        "HMAC_PRODUCER_SECRET": "whsec_not base64 at all!!",
        "OUTBOUND_SERVER_URL": "http://127.0.0.1:1",
        "OUTBOUND_SIGNING_PROFILE": "standard-webhooks",
    }
    with pytest.raises(ConfigError, match="OUTBOUND_SIGNING_PROFILE"):
        load_settings(env)


@dataclass
class _LibraryServer:
    """An ASGI server that verifies each request with the `standardwebhooks` library."""

    secret: str
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        answer = ""
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            document = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError as exc:
            with self.lock:
                self.rejected.append(str(exc))
            status = 401
        else:
            with self.lock:
                self.accepted.append(document)
            status = 201
            answer = SignalIngestResponse(
                signal_id=document["signal_id"],
                status="received",
                server_timestamp=datetime.now(UTC),
            ).model_dump_json(exclude_none=True)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send(
            {"type": "http.response.body", "body": answer.encode() if status == 201 else b""}
        )


@pytest.fixture
def library_server() -> Iterator[tuple[_LibraryServer, str]]:
    """A loopback server judging requests with `standardwebhooks`, not with this project."""
    server = _LibraryServer(WHSEC)
    with serve_in_thread(server) as url:
        yield server, url


async def test_a_relay_delivers_to_a_standard_webhooks_receiver(
    kafka_bootstrap: str,
    new_topic: TopicFactory,
    library_server: tuple[_LibraryServer, str],
) -> None:
    """A real relay and broker: every request passes the library's verify, in key order."""
    server, url = library_server
    topic = await new_topic(2)
    await publish(kafka_bootstrap, topic, keyed_signals(["A", "B", "C"], 10))
    settings = relay_settings(
        kafka_bootstrap,
        topic,
        url,
        HMAC_PRODUCER_SECRET=WHSEC,
        OUTBOUND_SIGNING_PROFILE="standard-webhooks",
    )
    async with running_relay(settings) as relay:
        registry = relay.metrics.registry

        def delivered() -> float | None:
            return registry.get_sample_value(
                "signal_relay_outcomes_total", {"outcome": "delivered"}
            )

        await eventually(lambda: delivered() == 30 or bool(server.rejected), 90, "30 deliveries")
    assert server.rejected == []
    assert len({item["signal_id"] for item in server.accepted}) == len(server.accepted) == 30
    order: dict[str, list[int]] = defaultdict(list)
    for item in server.accepted:
        order[item["instrument"]].append(int(item["note"].removeprefix("seq=")))
    assert order == {instrument: list(range(10)) for instrument in "ABC"}


async def test_the_reference_receiver_accepts_the_profile(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """The reference receiver verifies the relay's Standard Webhooks requests: all 201."""
    app = create_app(ReceiverConfig(secrets=(WHSEC,)))
    topic = await new_topic(1)
    await publish(kafka_bootstrap, topic, keyed_signals(["A", "B"], 5))
    with serve_in_thread(app) as url:
        settings = relay_settings(
            kafka_bootstrap,
            topic,
            url,
            HMAC_PRODUCER_SECRET=WHSEC,
            OUTBOUND_SIGNING_PROFILE="standard-webhooks",
        )
        async with running_relay(settings):
            arrived = await asyncio.to_thread(
                app.ledger.wait_until, lambda led: led.accepted_count >= 10, 90
            )
    assert arrived, f"only {app.ledger.accepted_count} of 10 arrived"
    assert app.ledger.summary()["statuses"] == {"201": 10}


async def test_hmac_client_signs_in_the_profile_too() -> None:
    """HmacClient with signing_profile='standard-webhooks' posts what the library accepts."""
    server = _LibraryServer(WHSEC)
    with serve_in_thread(server) as url:
        config = OutboundConfig(
            producer_id="desk-1",
            producer_secret=WHSEC,
            server_base_url=url,
            signing_profile="standard-webhooks",
        )
        async with HmacClient(config) as client:
            response = await client.post_signal(SIGNAL)
    assert response.status == "received"
    assert server.rejected == []
    assert len(server.accepted) == 1


async def test_a_dry_run_signs_in_the_profile(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """HMAC_PRODUCER_ENABLED=false with the profile: every record signed and logged, none sent."""
    topic = await new_topic(1)
    await publish(kafka_bootstrap, topic, keyed_signals(["A"], 3))
    settings = relay_settings(
        kafka_bootstrap,
        topic,
        "http://127.0.0.1:9",
        HMAC_PRODUCER_SECRET=WHSEC,
        HMAC_PRODUCER_ENABLED="false",
        OUTBOUND_SIGNING_PROFILE="standard-webhooks",
    )
    async with running_relay(settings) as relay:
        registry = relay.metrics.registry

        def dry_runs() -> float | None:
            return registry.get_sample_value("signal_relay_outcomes_total", {"outcome": "dry_run"})

        await eventually(lambda: dry_runs() == 3, 60, "3 dry runs")
    assert relay.crashed is None
