"""Secret rotation at runtime: `verifier.set_secrets` changes which signatures are accepted."""

import uuid
from collections.abc import Iterator

import httpx
import orjson
import pytest
from conftest import RunningReceiver
from relay_harness import SECRET

from signing.headers import signed_headers
from signing.timestamps import now_timestamp

PATH = "/api/v1/signals/ingest"
NEW_SECRET = "rotated-secret-0123456789abcdef"


def post_signed(client: httpx.Client, secret: str) -> httpx.Response:
    """POST a fresh valid signal signed with `secret`."""
    signal_id = str(uuid.uuid4())
    body = orjson.dumps(
        {
            "signal_id": signal_id,
            "instrument": "EURUSD",
            "side": "sell",
            "entry_price": "1.0850",
            "confidence": "0.6",
        }
    )
    headers = signed_headers(
        secret,
        body,
        signal_id=signal_id,
        producer_id="rotation-tests",
        endpoint=PATH,
        timestamp=now_timestamp(),
    )
    return client.post(PATH, content=body, headers=headers)


@pytest.fixture
def client(receiver: RunningReceiver) -> Iterator[httpx.Client]:
    """An HTTP client bound to the running receiver."""
    with httpx.Client(base_url=receiver.url) as client:
        yield client


def test_adding_a_secret_turns_401_into_201(
    client: httpx.Client, receiver: RunningReceiver
) -> None:
    """A signature with an unknown secret is refused until that secret is made active."""
    assert post_signed(client, NEW_SECRET).status_code == 401

    receiver.app.verifier.set_secrets([SECRET, NEW_SECRET])

    assert post_signed(client, NEW_SECRET).status_code == 201
    assert post_signed(client, SECRET).status_code == 201


def test_retired_secret_is_refused(client: httpx.Client, receiver: RunningReceiver) -> None:
    """Once a secret is no longer active its signatures get 401."""
    receiver.app.verifier.set_secrets([NEW_SECRET])

    assert post_signed(client, SECRET).status_code == 401
    assert post_signed(client, NEW_SECRET).status_code == 201
