"""The `/_receiver/` control endpoints: health, the ledger summary, and switching faults."""

from collections.abc import Iterator

import httpx
import pytest
from conftest import RunningReceiver

from signing.receiver.faults import Faults
from signing.receiver.ledger import Ledger


@pytest.fixture
def client(receiver: RunningReceiver) -> Iterator[httpx.Client]:
    """An HTTP client bound to the running receiver."""
    with httpx.Client(base_url=receiver.url) as client:
        yield client


def record_one_signal(ledger: Ledger) -> None:
    """Put one accepted signal and its 201 into `ledger`."""
    ledger.record_delivery("sig-1")
    ledger.accept(
        signal_id="sig-1",
        instrument="EURUSD",
        idempotency_key="sig-1",
        producer_id="control-tests",
        body=b"{}",
        headers={},
        response=b"{}",
    )
    ledger.record_answer(201)


def test_health_answers_ok(client: httpx.Client) -> None:
    """GET /_receiver/health is 200 with status ok."""
    response = client.get("/_receiver/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ledger_summary_counts_what_arrived(
    client: httpx.Client, receiver: RunningReceiver
) -> None:
    """GET /_receiver/ledger reports accepted, dropped and per-status counts."""
    record_one_signal(receiver.app.ledger)
    client.get("/api/v1/signals/ingest")

    response = client.get("/_receiver/ledger")

    assert response.status_code == 200
    assert response.json() == {
        "accepted": 1,
        "dropped": 0,
        "requests": 2,
        "statuses": {"201": 1, "405": 1},
    }


def test_ledger_detail_lists_signals_and_deliveries(
    client: httpx.Client, receiver: RunningReceiver
) -> None:
    """With ?detail=true the summary adds deliveries per signal and the accepted signals."""
    record_one_signal(receiver.app.ledger)

    answer = client.get("/_receiver/ledger", params={"detail": "true"}).json()

    assert answer["deliveries"] == {"sig-1": 1}
    assert answer["signals"] == [{"sequence": 1, "signal_id": "sig-1", "instrument": "EURUSD"}]


def test_deleting_the_ledger_clears_it(client: httpx.Client, receiver: RunningReceiver) -> None:
    """DELETE /_receiver/ledger empties the ledger."""
    record_one_signal(receiver.app.ledger)

    response = client.delete("/_receiver/ledger")

    assert response.status_code == 200
    assert response.json()["accepted"] == 0
    assert receiver.app.ledger.accepted_count == 0


def test_put_faults_switches_them_for_the_next_requests(
    client: httpx.Client, receiver: RunningReceiver
) -> None:
    """PUT /_receiver/faults replaces the faults in force; ingest then follows them."""
    response = client.put(
        "/_receiver/faults", json={"throttle_rate": 1.0, "retry_after_seconds": 3}
    )

    assert response.status_code == 200
    assert receiver.app.faults == Faults(throttle_rate=1.0, retry_after_seconds=3)
    assert client.get("/_receiver/faults").json() == response.json()
    throttled = client.post("/api/v1/signals/ingest", content=b"{}")
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "3"


@pytest.mark.parametrize("body", [b"{not json", b'{"error_rate": 2}', b'{"unknown": 1}'])
def test_put_invalid_faults_is_400_and_changes_nothing(
    client: httpx.Client, receiver: RunningReceiver, body: bytes
) -> None:
    """A faults body that is not JSON or not valid is refused and the old faults stay."""
    response = client.put("/_receiver/faults", content=body)

    assert response.status_code == 400
    assert receiver.app.faults == Faults()


def test_unknown_control_endpoint_is_404(client: httpx.Client) -> None:
    """Only health, ledger and faults exist under /_receiver/."""
    assert client.get("/_receiver/nothing").status_code == 404


def test_wrong_method_on_a_control_endpoint_is_405(client: httpx.Client) -> None:
    """A control endpoint names its allowed methods in a 405."""
    response = client.post("/_receiver/health")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
