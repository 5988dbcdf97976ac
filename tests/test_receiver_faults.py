"""Injected faults: latency, 503s, 429s with Retry-After, dropped connections, fixed statuses."""

import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
from conftest import RunningReceiver
from relay_harness import SECRET

from signing.headers import signed_headers
from signing.receiver.errors import InvalidFaultsError
from signing.receiver.faults import FaultDice, Faults
from signing.timestamps import format_timestamp

PATH = "/api/v1/signals/ingest"


def signed_signal(
    instrument: str = "EURUSD", *, seconds_ago: float = 0
) -> tuple[str, bytes, dict[str, str]]:
    """A fresh signal id, its body and headers signed now (minus `seconds_ago`)."""
    signal_id = str(uuid.uuid4())
    return (signal_id, *resigned(signal_id, instrument, seconds_ago=seconds_ago))


def resigned(
    signal_id: str, instrument: str = "EURUSD", *, seconds_ago: float = 0
) -> tuple[bytes, dict[str, str]]:
    """The body of `signal_id` and headers signed anew, as a retry would send them."""
    body = orjson.dumps(
        {
            "signal_id": signal_id,
            "instrument": instrument,
            "side": "buy",
            "entry_price": "1.0850",
            "confidence": "0.7",
        }
    )
    headers = signed_headers(
        SECRET,
        body,
        signal_id=signal_id,
        producer_id="fault-tests",
        endpoint=PATH,
        timestamp=format_timestamp(datetime.now(UTC) - timedelta(seconds=seconds_ago)),
    )
    return body, headers


@pytest.fixture
def client(receiver: RunningReceiver) -> Iterator[httpx.Client]:
    """An HTTP client bound to the running receiver."""
    with httpx.Client(base_url=receiver.url) as client:
        yield client


def test_error_rate_one_answers_503_before_processing(
    client: httpx.Client, receiver: RunningReceiver
) -> None:
    """With error_rate 1.0 a valid request gets 503 and is neither verified nor accepted."""
    receiver.app.faults = Faults(error_rate=1.0)
    signal_id, body, headers = signed_signal()

    response = client.post(PATH, content=body, headers=headers)

    assert response.status_code == 503
    assert response.json()["error"] == "injected_error"
    assert receiver.app.ledger.accepted_count == 0
    assert receiver.app.ledger.deliveries(signal_id) == 0


def test_throttle_rate_one_answers_429_with_retry_after(
    client: httpx.Client, receiver: RunningReceiver
) -> None:
    """With throttle_rate 1.0 a valid request gets 429 and the configured Retry-After."""
    receiver.app.faults = Faults(throttle_rate=1.0, retry_after_seconds=7)
    _, body, headers = signed_signal()

    response = client.post(PATH, content=body, headers=headers)

    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert receiver.app.ledger.accepted_count == 0


def test_drop_rate_one_accepts_then_drops_and_a_retry_is_replayed(
    client: httpx.Client, receiver: RunningReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    """A dropped request is accepted though the client sees a transport error; a retry gets 201."""
    receiver.app.faults = Faults(drop_rate=1.0)
    signal_id, body, headers = signed_signal(seconds_ago=1)

    with pytest.raises(httpx.TransportError):
        client.post(PATH, content=body, headers=headers)

    ledger = receiver.app.ledger
    assert [entry.signal_id for entry in ledger.accepted] == [signal_id]
    assert ledger.dropped == 1
    receiver.app.faults = Faults()
    body, headers = resigned(signal_id)
    retry = client.post(PATH, content=body, headers=headers)
    assert retry.status_code == 201
    assert retry.headers["idempotent-replayed"] == "true"
    original = ledger.get(signal_id)
    assert original is not None
    assert retry.content == original.response
    assert ledger.deliveries(signal_id) == 2
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_status_by_instrument_answers_that_status_without_accepting(
    client: httpx.Client, receiver: RunningReceiver
) -> None:
    """Requests for a listed instrument get its status and JSON error; others are accepted."""
    receiver.app.faults = Faults(status_by_instrument={"EURUSD": 422, "GBPUSD": 503})
    refused_id, refused_body, refused_headers = signed_signal("EURUSD")
    failing_id, failing_body, failing_headers = signed_signal("GBPUSD")
    _, body, headers = signed_signal("USDJPY")

    refused = client.post(PATH, content=refused_body, headers=refused_headers)
    failing = client.post(PATH, content=failing_body, headers=failing_headers)
    accepted = client.post(PATH, content=body, headers=headers)

    assert refused.status_code == 422
    assert refused.json()["error"] == "injected_status"
    assert failing.status_code == 503
    assert accepted.status_code == 201
    ledger = receiver.app.ledger
    assert [entry.instrument for entry in ledger.accepted] == ["USDJPY"]
    assert ledger.deliveries(refused_id) == 1
    assert ledger.deliveries(failing_id) == 1


def test_latency_delays_the_answer_past_a_short_client_timeout(
    client: httpx.Client, receiver: RunningReceiver
) -> None:
    """With added latency a short client timeout trips, and the request is handled afterwards."""
    receiver.app.faults = Faults(latency_ms=400)
    signal_id, body, headers = signed_signal()

    with pytest.raises(httpx.ReadTimeout):
        client.post(PATH, content=body, headers=headers, timeout=0.05)

    assert receiver.app.ledger.requests == 0
    assert receiver.app.ledger.wait_until(lambda ledger: ledger.accepted_count == 1, timeout=10)
    assert receiver.app.ledger.deliveries(signal_id) == 1


def test_same_seed_gives_the_same_faults(client: httpx.Client, receiver: RunningReceiver) -> None:
    """Setting faults with a seed re-seeds the dice: the same requests meet the same faults."""

    def statuses() -> list[int]:
        receiver.app.faults = Faults(error_rate=0.5, seed=7)
        return [client.post(PATH, content=b"{}").status_code for _ in range(16)]

    first = statuses()
    second = statuses()

    assert first == second
    assert set(first) == {401, 503}


def test_fractional_rates_follow_the_seeded_dice() -> None:
    """A rate between 0 and 1 fires on some rolls and not others, reproducibly per seed."""
    dice_a = FaultDice(Faults(seed=3))
    dice_b = FaultDice(Faults(seed=3))

    sequence_a = [dice_a.roll(0.5) for _ in range(64)]
    sequence_b = [dice_b.roll(0.5) for _ in range(64)]

    assert sequence_a == sequence_b
    assert 0 < sum(sequence_a) < 64


def test_zero_and_one_rates_are_certain() -> None:
    """Rates of 0 never fire and rates of 1 always fire."""
    dice = FaultDice(Faults())

    assert not any(dice.roll(0.0) for _ in range(100))
    assert all(dice.roll(1.0) for _ in range(100))


@pytest.mark.parametrize(
    "faults",
    [
        {"error_rate": 1.5},
        {"throttle_rate": -0.1},
        {"drop_rate": "0.5"},
        {"latency_ms": -1},
        {"retry_after_seconds": 1.5},
        {"status_by_instrument": {"EURUSD": 201}},
        {"status_by_instrument": {"EURUSD": 302}},
        {"status_by_instrument": ["EURUSD"]},
        {"seed": True},
        {"surprise": 1},
        [],
    ],
)
def test_invalid_faults_are_refused(faults: object) -> None:
    """Out-of-range, mistyped or unknown fault settings raise InvalidFaultsError."""
    with pytest.raises(InvalidFaultsError):
        Faults.from_json(faults)


def test_faults_round_trip_through_json() -> None:
    """`to_json` gives back what `from_json` reads; absent fields take their defaults."""
    faults = Faults.from_json({"throttle_rate": 0.25, "status_by_instrument": {"EURUSD": 422}})

    assert faults == Faults(throttle_rate=0.25, status_by_instrument={"EURUSD": 422})
    assert Faults.from_json(faults.to_json()) == faults
