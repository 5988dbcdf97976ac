"""The relay and HmacClient read a 201's verdict alike: one table, the same answer, one verdict."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import orjson
import pytest
from hostile_server import HostileServer, always, answer, hostile_server
from relay_harness import PRODUCER_ID, SECRET, encode, relay_settings, signal

from consumer.adapters import HttpSender, build_http_client
from consumer.ops import RelayMetrics
from consumer.service import Outcome, classify, prepare_signal
from signing import HmacClient, OutboundConfig, OutboundResponseError
from signing._ingest_verdict import MAX_VERDICT_BYTES, Verdict, read_verdict

SIGNAL_ID = "0b8f7a52-3c1e-4c4b-9d0e-6f1a2b3c4d5e"
AT = "2027-01-15T08:00:00Z"


def response(status: object, **more: object) -> bytes:
    """A SignalIngestResponse body with `status` (anything, for the unknown ones)."""
    return orjson.dumps({"signal_id": SIGNAL_ID, "status": status, "server_timestamp": AT, **more})


def sized(status: str, size: int) -> bytes:
    """A valid SignalIngestResponse of exactly `size` bytes (its message pads it)."""
    bare = len(response(status, message=""))
    return response(status, message="x" * (size - bare))


# (name, body, verdict): the module's table, row by row, with its edges.
TABLE = [
    ("received", response("received"), Verdict.RECEIVED),
    ("pending_approval", response("pending_approval"), Verdict.PENDING_APPROVAL),
    ("rejected", response("rejected", message="no", errors=["stop_loss"]), Verdict.REJECTED),
    ("rejected, unknown fields", response("rejected", score=3), Verdict.REJECTED),
    ("rejected, exactly 4 KiB", sized("rejected", MAX_VERDICT_BYTES), Verdict.REJECTED),
    ("rejected, 1 byte over 4 KiB", sized("rejected", MAX_VERDICT_BYTES + 1), Verdict.UNREAD),
    ("rejected, no server_timestamp", b'{"signal_id":"a","status":"rejected"}', Verdict.UNREAD),
    ("unknown status", response("accepted"), Verdict.UNREAD),
    ("status not a string", response(["rejected"]), Verdict.UNREAD),
    ("no status", orjson.dumps({"signal_id": SIGNAL_ID, "server_timestamp": AT}), Verdict.UNREAD),
    ("empty", b"", Verdict.UNREAD),
    ("not JSON", b"Created", Verdict.UNREAD),
    ("JSON array", b'["rejected"]', Verdict.UNREAD),
    (
        "not UTF-8",
        response("rejected", message="\u00e9").replace(b"\xc3\xa9", b"\xe9"),
        Verdict.UNREAD,
    ),
]
IDS = [name for name, _, _ in TABLE]


@pytest.mark.parametrize(("body", "verdict"), [(b, v) for _, b, v in TABLE], ids=IDS)
def test_read_verdict_follows_the_table(body: bytes, verdict: Verdict) -> None:
    """Only a readable SignalIngestResponse of at most 4 KiB gives a verdict; else UNREAD."""
    assert read_verdict(body).verdict is verdict


@pytest.mark.parametrize(("body", "verdict"), [(b, v) for _, b, v in TABLE], ids=IDS)
def test_classify_turns_the_verdict_into_the_outcome(body: bytes, verdict: Verdict) -> None:
    """A rejected 201 is REJECTED (dlq reason `rejected`); every other 201 is DELIVERED."""
    decision = classify(201, {}, body=body)
    assert decision.outcome.value == verdict.outcome
    assert decision.dlq_reason == ("rejected" if verdict is Verdict.REJECTED else None)


def test_a_replayed_rejection_is_rejected_and_a_replayed_acceptance_a_duplicate() -> None:
    """Idempotent-Replayed: true repeats the server's verdict; only acceptances are duplicates."""
    replayed = {"idempotent-replayed": "true"}
    assert classify(201, replayed, body=response("rejected")).outcome is Outcome.REJECTED
    assert classify(201, replayed, body=response("received")).outcome is Outcome.DUPLICATE
    assert classify(201, replayed, body=b"").outcome is Outcome.DUPLICATE


def test_the_explanation_is_bounded() -> None:
    """The server's message and errors, joined, never exceed 500 characters."""
    said = read_verdict(response("rejected", message="m" * 300, errors=["e" * 50] * 40))
    assert said.explanation().startswith("mmm")
    assert len(said.explanation()) == 500
    assert read_verdict(response("rejected", errors=["a", "b"])).explanation() == "a; b"


@pytest.fixture
def server() -> Iterator[HostileServer]:
    """A loopback server answering 201 with whatever body the test sets."""
    with hostile_server(always(answer(201, body=response("received")))) as running:
        yield running


@asynccontextmanager
async def relay_sender(url: str, transport: str) -> AsyncIterator[HttpSender]:
    """The relay's own sender and HTTP client for `url`."""
    settings = relay_settings("127.0.0.1:9", "t", url, OUTBOUND_HTTP_TRANSPORT=transport)
    client = build_http_client(settings)
    try:
        yield HttpSender(settings, client, RelayMetrics())
    finally:
        await client.aclose()


def client_outcome(caplog: pytest.LogCaptureFixture) -> str:
    """The outcome HmacClient logged for its last post."""
    fields: dict[str, object] = caplog.records[-1].fields  # type: ignore[attr-defined]
    return str(fields["outcome"])


@pytest.mark.parametrize("transport", ["aiohttp", "httpx", "pyreqwest"])
async def test_the_relay_and_the_client_reach_the_same_verdict_on_the_wire(
    server: HostileServer, transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Every row served over HTTP: the relay's transport and HmacClient name one outcome."""
    raw = encode(signal("EURUSD", 1))
    config = OutboundConfig(
        producer_id=PRODUCER_ID, producer_secret=SECRET, server_base_url=server.url
    )
    seen: dict[str, tuple[str, str]] = {}
    with caplog.at_level(logging.INFO, logger="signal_relay.client"):
        async with relay_sender(server.url, transport) as sender, HmacClient(config) as client:
            prepared = prepare_signal(raw, 65536).signal
            for name, body, _ in TABLE:
                server.set(always(answer(201, body=body)))
                result = await sender.send(prepared)
                relay = classify(result.status, result.headers, body=result.content)
                # An unread body raises (its outcome, logged, is `delivered`); a verdict returns.
                with contextlib.suppress(OutboundResponseError):
                    await client.post_signal(raw, timeout=5)
                seen[name] = (relay.outcome.value, client_outcome(caplog))

    expected = {name: (verdict.outcome, verdict.outcome) for name, _, verdict in TABLE}
    assert seen == expected
