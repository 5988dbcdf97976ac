"""The receiver refuses what it must: bad auth 401, broken bodies 400/422, oversize 413, 404/405."""

import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from conftest import RunningReceiver
from relay_harness import SECRET

from signing.headers import signed_headers
from signing.receiver.app import create_app
from signing.receiver.config import ReceiverConfig
from signing.receiver.serve import serve_in_thread
from signing.timestamps import format_timestamp

PATH = "/api/v1/signals/ingest"


def body_with(signal_id: str | None, **fields: object) -> bytes:
    """A valid candidate body (with `signal_id` when given), fields overridden."""
    document: dict[str, object] = {
        "instrument": "EURUSD",
        "side": "buy",
        "entry_price": "1.0850",
        "confidence": "0.7",
    }
    if signal_id is not None:
        document["signal_id"] = signal_id
    document.update(fields)
    return orjson.dumps(document)


def signed(
    body: bytes, key: str, *, secret: str = SECRET, seconds_ago: float = 0
) -> dict[str, str]:
    """Headers signing `body` now (minus `seconds_ago`) with idempotency key `key`."""
    return signed_headers(
        secret,
        body,
        signal_id=key,
        producer_id="rejection-tests",
        endpoint=PATH,
        timestamp=format_timestamp(datetime.now(UTC) - timedelta(seconds=seconds_ago)),
    )


@pytest.fixture
def client(receiver: RunningReceiver) -> Iterator[httpx.Client]:
    """An HTTP client bound to the running receiver."""
    with httpx.Client(base_url=receiver.url) as client:
        yield client


def test_missing_auth_headers_get_401(client: httpx.Client, receiver: RunningReceiver) -> None:
    """A body without any signing headers is refused as missing_header, and not recorded."""
    response = client.post(PATH, content=body_with(str(uuid.uuid4())))

    assert response.status_code == 401
    assert response.json()["error"] == "missing_header"
    assert receiver.app.ledger.accepted_count == 0
    assert receiver.app.ledger.status_counts == {401: 1}


def test_signature_from_another_secret_gets_401_without_the_secret(
    client: httpx.Client, receiver: RunningReceiver
) -> None:
    """A wrong signature is a 401 naming signature_mismatch; the body never echoes a secret."""
    signal_id = str(uuid.uuid4())
    body = body_with(signal_id)
    wrong_secret = "some-other-secret-0123456789"

    response = client.post(PATH, content=body, headers=signed(body, signal_id, secret=wrong_secret))

    assert response.status_code == 401
    assert response.json()["error"] == "signature_mismatch"
    assert SECRET not in response.text
    assert wrong_secret not in response.text
    assert receiver.app.ledger.deliveries(signal_id) == 0


def test_tampered_body_gets_401(client: httpx.Client) -> None:
    """A body changed after signing no longer matches its signature."""
    signal_id = str(uuid.uuid4())
    headers = signed(body_with(signal_id), signal_id)

    response = client.post(PATH, content=body_with(signal_id, side="sell"), headers=headers)

    assert response.status_code == 401
    assert response.json()["error"] == "signature_mismatch"


def test_stale_timestamp_gets_401(client: httpx.Client) -> None:
    """A signature made longer ago than the freshness window is refused."""
    signal_id = str(uuid.uuid4())
    body = body_with(signal_id)

    response = client.post(PATH, content=body, headers=signed(body, signal_id, seconds_ago=3600))

    assert response.status_code == 401
    assert response.json()["error"] == "stale_timestamp"


def test_resent_identical_request_gets_401_replayed(client: httpx.Client) -> None:
    """Sending the very same signed request twice is a replay, unlike a fresh re-signing."""
    signal_id = str(uuid.uuid4())
    body = body_with(signal_id)
    headers = signed(body, signal_id)
    assert client.post(PATH, content=body, headers=headers).status_code == 201

    response = client.post(PATH, content=body, headers=headers)

    assert response.status_code == 401
    assert response.json()["error"] == "replayed_signature"


def test_key_differing_from_body_signal_id_gets_401(client: httpx.Client) -> None:
    """An idempotency key that is not the body's signal_id is refused as a mismatch."""
    body = body_with(str(uuid.uuid4()))

    response = client.post(PATH, content=body, headers=signed(body, str(uuid.uuid4())))

    assert response.status_code == 401
    assert response.json()["error"] == "idempotency_key_mismatch"


def test_signed_body_that_is_not_json_gets_400(
    client: httpx.Client, receiver: RunningReceiver
) -> None:
    """A validly signed body that is not JSON is a 400 invalid_json."""
    body = b'{"signal_id": "oops'

    response = client.post(PATH, content=body, headers=signed(body, str(uuid.uuid4())))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_json"
    assert receiver.app.ledger.accepted_count == 0


def test_signed_body_that_is_not_utf8_gets_400(client: httpx.Client) -> None:
    """A validly signed body that is not UTF-8 is a 400 invalid_json."""
    body = b'{"instrument": "\xff\xfe"}'

    response = client.post(PATH, content=body, headers=signed(body, str(uuid.uuid4())))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_json"


def test_invalid_candidate_gets_422_listing_every_problem(
    client: httpx.Client, receiver: RunningReceiver
) -> None:
    """A signed JSON candidate that breaks the schema is a 422 with one entry per problem."""
    signal_id = str(uuid.uuid4())
    body = body_with(signal_id, instrument="eur usd", confidence="1.5")

    response = client.post(PATH, content=body, headers=signed(body, signal_id))

    assert response.status_code == 422
    answer = response.json()
    assert answer["error"] == "invalid_schema"
    assert len(answer["errors"]) == 2
    assert any(problem.startswith("instrument") for problem in answer["errors"])
    assert any(problem.startswith("confidence") for problem in answer["errors"])
    assert receiver.app.ledger.accepted_count == 0
    assert receiver.app.ledger.deliveries(signal_id) == 1


def test_candidate_without_signal_id_gets_422(client: httpx.Client) -> None:
    """A valid candidate lacking signal_id is a 422 naming the missing field."""
    body = body_with(None)

    response = client.post(PATH, content=body, headers=signed(body, str(uuid.uuid4())))

    assert response.status_code == 422
    assert response.json()["error"] == "missing_signal_id"
    assert response.json()["errors"] == ["signal_id: required"]


def test_body_over_the_declared_limit_gets_413_unread(receiver: RunningReceiver) -> None:
    """A Content-Length over the limit is answered 413 before any body byte is sent."""
    address = urlsplit(receiver.url)
    assert address.hostname is not None
    assert address.port is not None
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        "Content-Length: 10000000\r\n\r\n"
    )
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(head.encode("ascii"))
        status_line = sock.makefile("rb").readline()

    assert status_line.startswith(b"HTTP/1.1 413 ")
    assert receiver.app.ledger.status_counts == {413: 1}


def test_oversize_body_gets_413(client: httpx.Client) -> None:
    """A body of one byte over the default 65536-byte limit is a 413 too_large."""
    body = b" " * 65537

    response = client.post(PATH, content=body, headers=signed(body, str(uuid.uuid4())))

    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


def test_chunked_body_growing_past_the_limit_gets_413() -> None:
    """A body without Content-Length is cut off with 413 once it passes the limit."""
    app = create_app(ReceiverConfig(secrets=(SECRET,), max_body_size=1024))

    def chunks() -> Iterator[bytes]:
        for _ in range(4):
            yield b" " * 512

    with serve_in_thread(app) as url, httpx.Client(base_url=url) as client:
        response = client.post(PATH, content=chunks())

    assert response.status_code == 413
    assert app.ledger.status_counts == {413: 1}


def test_other_paths_get_404(client: httpx.Client) -> None:
    """Only the ingest path and the control endpoints exist."""
    response = client.post("/api/v1/signals/other", content=b"{}")

    assert response.status_code == 404


def test_other_methods_on_the_ingest_path_get_405(client: httpx.Client) -> None:
    """The ingest path answers anything but POST with 405 and Allow: POST."""
    response = client.get(PATH)

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
