"""The receiver accepts a validly signed signal with 201 and replays the same answer for its key."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from schemas.record import parse_candidate
from schemas.response import SignalIngestResponse
from signing.canonical import CanonicalSignal, canonical_body
from signing.headers import signed_headers
from signing.receiver.app import ReceiverApp, create_app
from signing.receiver.config import ReceiverConfig
from signing.receiver.serve import serve_in_thread
from signing.timestamps import format_timestamp

SECRET = "accept-test-secret-0123456789"
PATH = "/api/v1/signals/ingest"
NOW = datetime(2026, 11, 28, 3, 0, 0, 123000, tzinfo=UTC)
SIGNAL = b'{"instrument":"EURUSD","side":"buy","entry_price":"1.0850","confidence":"0.7"}'


@dataclass(frozen=True)
class Served:
    """A receiver whose clock is frozen at NOW, and a client for it."""

    app: ReceiverApp
    client: httpx.Client


@pytest.fixture
def served() -> Iterator[Served]:
    """A receiver on loopback with a frozen clock, and an HTTP client bound to it."""
    app = create_app(ReceiverConfig(secrets=(SECRET,)), clock=NOW.timestamp)
    with serve_in_thread(app) as url, httpx.Client(base_url=url) as client:
        yield Served(app, client)


def post(
    client: httpx.Client, signal: CanonicalSignal, *, seconds_ago: float = 0
) -> httpx.Response:
    """POST `signal` signed at NOW minus `seconds_ago` (distinct times give distinct signatures)."""
    headers = signed_headers(
        SECRET,
        signal.body,
        signal_id=signal.signal_id,
        producer_id="accept-tests",
        endpoint=PATH,
        timestamp=format_timestamp(NOW - timedelta(seconds=seconds_ago)),
    )
    return client.post(PATH, content=signal.body, headers=headers)


def test_valid_signal_gets_201_with_a_received_response(served: Served) -> None:
    """A validly signed canonical body is answered 201 with a SignalIngestResponse."""
    signal = canonical_body(parse_candidate(SIGNAL))

    response = post(served.client, signal)

    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert "idempotent-replayed" not in response.headers
    answer = SignalIngestResponse.model_validate_json(response.content)
    assert answer.signal_id == signal.signal_id
    assert answer.status == "received"
    assert answer.server_timestamp == NOW


def test_accepted_signal_is_in_the_ledger_as_it_arrived(served: Served) -> None:
    """The ledger holds the exact body, headers, instrument and key of an accepted signal."""
    signal = canonical_body(parse_candidate(SIGNAL))

    post(served.client, signal)

    [entry] = served.app.ledger.accepted
    assert entry.sequence == 1
    assert entry.signal_id == signal.signal_id
    assert entry.idempotency_key == signal.signal_id
    assert entry.instrument == "EURUSD"
    assert entry.producer_id == "accept-tests"
    assert entry.body == signal.body
    assert entry.headers["x-idempotency-key"] == signal.signal_id
    assert served.app.ledger.deliveries(signal.signal_id) == 1
    assert served.app.ledger.status_counts == {201: 1}


def test_repeated_key_replays_the_original_201(served: Served) -> None:
    """A second delivery of the same key gets the original body back, marked as a replay."""
    signal = canonical_body(parse_candidate(SIGNAL))
    first = post(served.client, signal, seconds_ago=1)

    second = post(served.client, signal)

    assert second.status_code == 201
    assert second.headers["idempotent-replayed"] == "true"
    assert second.content == first.content
    assert served.app.ledger.accepted_count == 1
    assert served.app.ledger.deliveries(signal.signal_id) == 2


def test_signals_are_accepted_in_arrival_order(served: Served) -> None:
    """Each new key is appended to the ledger with the next sequence number."""
    signals = [
        canonical_body(parse_candidate(SIGNAL.replace(b"EURUSD", name)))
        for name in (b"EURUSD", b"GBPUSD", b"USDJPY")
    ]

    for signal in signals:
        assert post(served.client, signal).status_code == 201

    accepted = served.app.ledger.accepted
    assert [entry.signal_id for entry in accepted] == [s.signal_id for s in signals]
    assert [entry.sequence for entry in accepted] == [1, 2, 3]
