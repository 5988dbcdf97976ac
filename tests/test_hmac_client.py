"""HmacClient posts one signal to the real reference receiver, as the seed's client did."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from conftest import RunningReceiver
from hostile_server import (
    Answer,
    always,
    answer,
    hostile_server,
    huge_body,
    redirect,
    slow_headers,
)
from relay_harness import PRODUCER_ID, SECRET, encode, signal

from consumer import __version__
from schemas import SignalCandidate, SignalIngestResponse
from signing import (
    HmacClient,
    OutboundClientError,
    OutboundConfig,
    OutboundDisabledError,
    OutboundIdempotencyKeyError,
    OutboundResponseError,
    OutboundSignalError,
    OutboundSignatureError,
    OutboundSystemicError,
    OutboundTransportError,
    verify_signature,
)
from signing.receiver import Faults

FIXED_SIGNAL_ID = "0b8f7a52-3c1e-4c4b-9d0e-6f1a2b3c4d5e"


def _config(url: str, **overrides: object) -> OutboundConfig:
    fields: dict[str, object] = {
        "producer_id": PRODUCER_ID,
        "producer_secret": SECRET,
        "server_base_url": url,
    }
    fields.update(overrides)
    return OutboundConfig(**fields)  # type: ignore[arg-type]


async def test_a_valid_signal_gets_a_201_and_its_ingest_response(
    receiver: RunningReceiver,
) -> None:
    """post_signal returns the receiver's SignalIngestResponse for the signal's canonical id."""
    async with HmacClient(_config(receiver.url)) as client:
        response = await client.post_signal(signal("EURUSD", 1, signal_id=FIXED_SIGNAL_ID))

    assert isinstance(response, SignalIngestResponse)
    assert response.signal_id == FIXED_SIGNAL_ID
    assert response.status == "received"
    accepted = receiver.app.ledger.get(FIXED_SIGNAL_ID)
    assert accepted is not None
    assert receiver.app.ledger.accepted_count == 1


async def test_a_candidate_a_mapping_and_json_bytes_are_the_same_signal(
    receiver: RunningReceiver,
) -> None:
    """The three accepted forms of one signal make one canonical body and one signal_id."""
    fields = signal("EURUSD", 2)
    forms: list[SignalCandidate | dict[str, object] | bytes] = [
        SignalCandidate.model_validate({**fields, "entry_price": Decimal("100.25")}),
        {**fields, "entry_price": Decimal("100.25")},
        encode(fields),
    ]
    async with HmacClient(_config(receiver.url)) as client:
        bodies = {client.canonical(form).body for form in forms}
        responses = [await client.post_signal(form) for form in forms]

    assert len(bodies) == 1
    assert len({r.signal_id for r in responses}) == 1
    assert receiver.app.ledger.accepted_count == 1


async def test_a_repeated_post_gets_the_original_answer(receiver: RunningReceiver) -> None:
    """Posting the same signal twice: both 201s carry the first answer (the server's replay)."""
    async with HmacClient(_config(receiver.url)) as client:
        first = await client.post_signal(signal("EURUSD", 3))
        second = await client.post_signal(signal("EURUSD", 3), idempotency_key=first.signal_id)

    assert second == first
    assert receiver.app.ledger.accepted_count == 1
    assert receiver.app.ledger.deliveries(first.signal_id) == 2


async def test_a_wrong_secret_is_the_systemic_401_error(receiver: RunningReceiver) -> None:
    """A secret the receiver does not hold: OutboundSystemicError with http_code 401, no secret."""
    wrong = "not-the-receiver-secret-0123"
    async with HmacClient(_config(receiver.url, producer_secret=wrong)) as client:
        with pytest.raises(OutboundSystemicError) as caught:
            await client.post_signal(signal("EURUSD", 4))

    error = caught.value
    assert isinstance(error, OutboundClientError)
    assert error.http_code == 401
    assert "signature_mismatch" in error.details
    assert not error.retriable
    assert wrong not in str(error)
    assert wrong not in error.details
    assert receiver.app.ledger.accepted_count == 0


async def test_each_post_logs_one_event_with_its_outcome(
    receiver: RunningReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    """One `signal_posted` event per post, naming signal, outcome and status, never the secret."""
    wrong = "not-the-receiver-secret-0123"
    with caplog.at_level(logging.INFO, logger="signal_relay.client"):
        async with HmacClient(_config(receiver.url)) as client:
            delivered = await client.post_signal(signal("EURUSD", 14))
        async with HmacClient(_config(receiver.url, producer_secret=wrong)) as client:
            with pytest.raises(OutboundSystemicError):
                await client.post_signal(signal("EURUSD", 15))

    events = [(r.getMessage(), r.fields) for r in caplog.records]  # type: ignore[attr-defined]
    assert [(name, f["outcome"], f["http_code"]) for name, f in events] == [
        ("signal_posted", "delivered", 201),
        ("signal_posted", "systemic", 401),
    ]
    assert events[0][1]["signal_id"] == delivered.signal_id
    assert SECRET not in caplog.text
    assert wrong not in caplog.text


async def test_a_differing_idempotency_key_is_refused_and_nothing_is_sent(
    receiver: RunningReceiver,
) -> None:
    """A caller key that is not the body's signal_id raises before any request is made."""
    async with HmacClient(_config(receiver.url)) as client:
        with pytest.raises(OutboundIdempotencyKeyError, match="differs from the body's signal_id"):
            await client.post_signal(
                signal("EURUSD", 5, signal_id=FIXED_SIGNAL_ID),
                idempotency_key="4f7d0c0e-8a59-4c43-9d5c-111111111111",
            )

    assert receiver.app.ledger.requests == 0


async def test_an_invalid_signal_is_refused_and_nothing_is_sent(
    receiver: RunningReceiver,
) -> None:
    """A signal the relay would dead-letter as invalid raises OutboundSignalError, unsent."""
    async with HmacClient(_config(receiver.url)) as client:
        with pytest.raises(OutboundSignalError, match="side"):
            await client.post_signal(signal("EURUSD", 6, side="hold"))
        with pytest.raises(OutboundSignalError, match="not JSON"):
            await client.post_signal(b"{not json")
    async with HmacClient(_config(receiver.url, max_body_size=1024)) as small:
        with pytest.raises(OutboundSignalError, match="over the 1024-byte limit"):
            await small.post_signal(signal("EURUSD", 7, note="x" * 1000))

    assert receiver.app.ledger.requests == 0


async def test_the_seed_snippet_runs_from_environment_variables(
    receiver: RunningReceiver, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """OutboundConfig.from_env() + `async with HmacClient(...)` + post_signal, as in the README."""
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    monkeypatch.setenv("HMAC_PRODUCER_ENABLED", "true")
    monkeypatch.setenv("HMAC_PRODUCER_SECRET_FILE", str(secret_file))
    monkeypatch.setenv("PRODUCER_ID", PRODUCER_ID)
    monkeypatch.setenv("OUTBOUND_SERVER_URL", receiver.url)
    monkeypatch.setenv("OUTBOUND_TIMEOUT_SECONDS", "10")

    config = OutboundConfig.from_env()
    async with HmacClient(config, logging.getLogger("trading.outbound")) as client:
        response = await client.post_signal(
            SignalCandidate(
                instrument="XAUUSD",
                side="buy",
                entry_price=Decimal("2350.10"),
                confidence=Decimal("0.82"),
            ),
            timeout=5,
        )

    assert response.status == "received"
    assert receiver.app.ledger.get(response.signal_id) is not None


async def test_a_disabled_config_signs_but_sends_nothing(receiver: RunningReceiver) -> None:
    """enabled=False (HMAC_PRODUCER_ENABLED=false) is a dry run: OutboundDisabledError, unsent."""
    async with HmacClient(_config(receiver.url, enabled=False)) as client:
        with pytest.raises(OutboundDisabledError):
            await client.post_signal(signal("EURUSD", 8))

    assert receiver.app.ledger.requests == 0


async def test_an_explicit_httpx_transport_is_used(receiver: RunningReceiver) -> None:
    """Any httpx transport can carry the requests: here httpx's own, configured by the caller."""
    transport = httpx.AsyncHTTPTransport(retries=0, http1=True)
    async with HmacClient(_config(receiver.url), transport=transport) as client:
        response = await client.post_signal(signal("EURUSD", 9))

    assert receiver.app.ledger.get(response.signal_id) is not None


async def test_the_request_bytes_are_the_contract_s() -> None:
    """One request, seen by a MockTransport: as docs/PROTOCOL.md §4 says."""
    seen: list[httpx.Request] = []
    answer = {
        "signal_id": FIXED_SIGNAL_ID,
        "status": "received",
        "server_timestamp": "2026-01-01T00:00:00Z",
    }

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json=answer)

    config = _config("https://signals.example:8443/")
    client = HmacClient(config, transport=httpx.MockTransport(handler), clock=lambda: 1.8e9 + 0.25)
    async with client:
        canonical = client.canonical(signal("EURUSD", 10, signal_id=FIXED_SIGNAL_ID))
        await client.post_signal(signal("EURUSD", 10, signal_id=FIXED_SIGNAL_ID))

    [request] = seen
    assert request.method == "POST"
    assert str(request.url) == "https://signals.example:8443/api/v1/signals/ingest"
    assert request.content == canonical.body
    headers = request.headers
    assert headers["content-type"] == "application/json"
    assert headers["x-producer-id"] == PRODUCER_ID
    assert headers["x-timestamp"] == "2027-01-15T08:00:00.250Z"
    assert headers["x-idempotency-key"] == FIXED_SIGNAL_ID
    assert headers["user-agent"] == f"signal-relay/{__version__}"
    assert "cookie" not in headers
    assert verify_signature(
        SECRET, request.content, headers["x-timestamp"], PRODUCER_ID, headers["x-signature"]
    )


async def test_a_server_slower_than_the_timeout_is_a_transport_error() -> None:
    """No answer within `timeout`: OutboundTransportError (retriable, no http_code)."""
    with hostile_server(always(slow_headers(30))) as server:
        async with HmacClient(_config(server.url)) as client:
            with pytest.raises(OutboundTransportError) as caught:
                await client.post_signal(signal("EURUSD", 11), timeout=0.3)

    assert caught.value.retriable
    assert caught.value.http_code is None


async def test_a_redirect_is_a_systemic_error_and_never_followed() -> None:
    """A 307 to another server: OutboundSystemicError with its status; the other is never asked."""
    with (
        hostile_server(always(answer(201))) as elsewhere,
        hostile_server(always(redirect(307, f"{elsewhere.url}/api/v1/signals/ingest"))) as server,
    ):
        async with HmacClient(_config(server.url)) as client:
            with pytest.raises(OutboundSystemicError) as caught:
                await client.post_signal(signal("EURUSD", 12))

        assert caught.value.http_code == 307
        assert (server.count, elsewhere.count) == (1, 0)


@pytest.mark.parametrize(
    "reply",
    [answer(201, body=b"<html>created</html>"), huge_body(201, size=256 * 1024 * 1024)],
    ids=["not-json", "256-MiB"],
)
async def test_a_201_without_an_ingest_response_is_delivered_but_raises(reply: Answer) -> None:
    """201 with a body that is no SignalIngestResponse (or huge, read 64 KiB far): delivered."""
    with hostile_server(always(reply)) as server:
        async with HmacClient(_config(server.url)) as client:
            with pytest.raises(OutboundResponseError) as caught:
                await client.post_signal(signal("EURUSD", 13), timeout=10)

    assert caught.value.outcome == "delivered"
    assert caught.value.http_code == 201
    assert len(caught.value.details) <= 1024


def test_repr_and_errors_never_show_the_secret() -> None:
    """repr/str of the config and the client redact the secret; so does a config error."""
    config = _config("http://127.0.0.1:9")
    client = HmacClient(config)
    for text in (repr(config), str(config), repr(client)):
        assert SECRET not in text
        assert "producer_secret='***'" in text
    with pytest.raises(OutboundSignatureError) as caught:
        _config("http://127.0.0.1:9", producer_secret="short-secret")
    assert "short-secret" not in str(caught.value)


async def test_a_rejected_201_is_returned_and_logged_as_rejected(
    receiver: RunningReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    """The server's `rejected` verdict: returned as it is, logged as outcome `rejected`, twice."""
    receiver.app.faults = Faults(reject_instruments=frozenset({"BTCUSD"}))
    with caplog.at_level(logging.INFO, logger="signal_relay.client"):
        async with HmacClient(_config(receiver.url)) as client:
            first = await client.post_signal(signal("BTCUSD", 1))
            again = await client.post_signal(signal("BTCUSD", 1))  # the receiver replays it
            accepted = await client.post_signal(signal("EURUSD", 1))

    assert (first.status, again.status, accepted.status) == ("rejected", "rejected", "received")
    assert first.errors == ["injected_rejection"]
    events = [(r.levelname, r.fields) for r in caplog.records]  # type: ignore[attr-defined]
    assert [(level, f["outcome"]) for level, f in events] == [
        ("WARNING", "rejected"),
        ("WARNING", "rejected"),
        ("INFO", "delivered"),
    ]
    assert "injected_rejection" in str(events[0][1]["server_said"])
