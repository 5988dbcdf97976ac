"""The receiver's memory is bounded: ledger, idempotency store and replay cache.

The app is driven in process (httpx's ASGI transport) with an injected clock, so lifetimes and
windows are crossed by moving the clock, never by waiting.
"""

import tracemalloc
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from schemas.record import parse_candidate
from signing.canonical import CanonicalSignal, canonical_body
from signing.headers import signed_headers
from signing.receiver import (
    DEFAULT_IDEMPOTENCY_CAPACITY,
    DEFAULT_IDEMPOTENCY_TTL_SECONDS,
    DEFAULT_LEDGER_CAPACITY,
    DEFAULT_REPLAY_CACHE_CAPACITY,
    InvalidReceiverConfigError,
    Ledger,
    ReceiverApp,
    ReceiverConfig,
    ReplayWindow,
    ReplayWindowFullError,
    create_app,
)
from signing.timestamps import format_epoch

SECRET = "bounds-test-secret-0123456789"
PATH = "/api/v1/signals/ingest"
T0 = 1_795_835_000.0  # 2026-11-28, a whole second


class Clock:
    """A settable clock: seconds since the epoch."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Request:
    """One signed request, kept so that it can be sent again byte for byte."""

    signal: CanonicalSignal
    headers: dict[str, str]


@dataclass(frozen=True)
class Receiver:
    """An app with a settable clock, and an in-process client for it."""

    app: ReceiverApp
    clock: Clock
    client: httpx.AsyncClient

    def sign(self, signal: CanonicalSignal, *, at: float | None = None) -> Request:
        """`signal` signed at `at` (default: the receiver's current time)."""
        headers = signed_headers(
            SECRET,
            signal.body,
            signal_id=signal.signal_id,
            producer_id="bounds-tests",
            endpoint=PATH,
            timestamp=format_epoch(self.clock.now if at is None else at),
        )
        return Request(signal, headers)

    async def send(self, request: Request) -> httpx.Response:
        """POST `request` exactly as signed."""
        return await self.client.post(PATH, content=request.signal.body, headers=request.headers)

    async def post(self, signal: CanonicalSignal, *, at: float | None = None) -> httpx.Response:
        """Sign `signal` now (or at `at`) and POST it."""
        return await self.send(self.sign(signal, at=at))


def make_signal(number: int) -> CanonicalSignal:
    """A distinct valid signal per `number`."""
    signal_id = str(uuid.UUID(int=number + 1))
    record = (
        f'{{"signal_id":"{signal_id}","instrument":"EURUSD","side":"buy",'
        f'"entry_price":"1.0850","confidence":"0.7"}}'
    ).encode()
    return canonical_body(parse_candidate(record))


@pytest.fixture
def settings() -> dict[str, object]:
    """Overrides of ReceiverConfig for the `receiver` fixture; tests change it first."""
    return {}


@pytest.fixture
async def receiver(settings: dict[str, object]) -> AsyncIterator[Receiver]:
    """A receiver built with `settings`, its clock at T0, reached through the ASGI transport."""
    clock = Clock()
    app = create_app(ReceiverConfig(secrets=(SECRET,), **settings), clock=clock)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        yield Receiver(app, clock, client)


# --- configuration -------------------------------------------------------------------------


def test_bounds_have_documented_defaults() -> None:
    """Every bound is on by default, with the values the config documents."""
    config = ReceiverConfig(secrets=(SECRET,))

    assert config.ledger_capacity == DEFAULT_LEDGER_CAPACITY == 10_000
    assert config.idempotency_capacity == DEFAULT_IDEMPOTENCY_CAPACITY == 100_000
    assert config.idempotency_ttl_seconds == DEFAULT_IDEMPOTENCY_TTL_SECONDS == 86_400
    assert config.replay_cache_capacity == DEFAULT_REPLAY_CACHE_CAPACITY == 1_000_000
    for name in ("ledger_capacity", "idempotency_capacity", "replay_cache_capacity"):
        assert f"{name}=" in repr(config)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"ledger_capacity": 0}, "ledger_capacity"),
        ({"ledger_capacity": True}, "ledger_capacity"),
        ({"idempotency_capacity": 0}, "idempotency_capacity"),
        ({"idempotency_capacity": 1.5}, "idempotency_capacity"),
        ({"idempotency_ttl_seconds": 0}, "idempotency_ttl_seconds"),
        ({"idempotency_ttl_seconds": float("inf")}, "idempotency_ttl_seconds"),
        ({"replay_cache_capacity": -1}, "replay_cache_capacity"),
    ],
)
def test_out_of_range_bounds_are_refused(changes: dict[str, object], named: str) -> None:
    """A bound below one entry (or a non-finite lifetime) is refused, naming the setting."""
    with pytest.raises(InvalidReceiverConfigError, match=named):
        ReceiverConfig(secrets=(SECRET,), **changes)  # type: ignore[arg-type]


# --- the ledger ----------------------------------------------------------------------------


@pytest.mark.parametrize("settings", [{"ledger_capacity": 100}])
async def test_ledger_keeps_the_last_n_in_full_and_counts_every_acceptance(
    receiver: Receiver,
) -> None:
    """With capacity 100, after 1,000 acceptances 100 full entries remain; counts stay exact."""
    signals = [make_signal(n) for n in range(1_000)]

    for signal in signals:
        assert (await receiver.post(signal)).status_code == 201

    ledger = receiver.app.ledger
    kept = ledger.accepted
    assert len(kept) == 100
    assert [entry.sequence for entry in kept] == list(range(901, 1_001))
    assert [entry.signal_id for entry in kept] == [s.signal_id for s in signals[900:]]
    assert kept[-1].body == signals[-1].body
    assert ledger.accepted_count == 1_000
    assert ledger.status_counts == {201: 1_000}
    assert ledger.requests == 1_000
    assert ledger.get(signals[0].signal_id) is None
    assert ledger.get(signals[-1].signal_id) == kept[-1]
    summary = ledger.summary(detail=True)
    assert summary["accepted"] == 1_000
    assert isinstance(summary["signals"], list)
    assert len(summary["signals"]) == 100
    # Only the full entries are bounded by ledger_capacity: the keys are still remembered.
    assert ledger.remembered_keys == 1_000
    assert ledger.deliveries(signals[0].signal_id) == 1


def test_delivery_counts_are_kept_for_the_most_recent_signal_ids() -> None:
    """Per-signal delivery counts share the idempotency bound; the oldest id is forgotten."""
    ledger = Ledger(capacity=10, idempotency_capacity=100)

    for n in range(1_000):
        ledger.record_delivery(f"sig-{n}")
    ledger.record_delivery("sig-999")

    counts = ledger.delivery_counts()
    assert len(counts) == 100
    assert next(iter(counts)) == "sig-900"
    assert ledger.deliveries("sig-999") == 2
    assert ledger.deliveries("sig-0") == 0


def test_memory_per_signal_beyond_the_full_entries_is_small() -> None:
    """Past `capacity`, an accepted signal costs its key and 201 body, not its body and headers."""
    headers = {f"x-header-{n}": "v" * 100 for n in range(8)}  # about 1 KB of headers
    body = b"b" * 400
    response = b'{"signal_id":"00000000-0000-0000-0000-000000000000","status":"received"}'
    ledger = Ledger(capacity=10, idempotency_capacity=100_000)

    def accept(n: int) -> None:
        key = str(uuid.UUID(int=n + 1))
        ledger.record_delivery(key)
        ledger.accept(
            signal_id=key,
            instrument="EURUSD",
            idempotency_key=key,
            producer_id="bounds-tests",
            body=bytes(body),
            headers=dict(headers),
            response=bytes(response),
        )

    for n in range(10):
        accept(n)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(10, 5_010):
            accept(n)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()

    per_signal = grown / 5_000
    # A full entry alone is over 1.5 KB (body, headers); what remains per key is a few hundred.
    assert per_signal < 600, f"{per_signal:.0f} bytes per accepted signal"
    assert len(ledger.accepted) == 10
    assert ledger.accepted_count == 5_010


# --- the idempotency store -----------------------------------------------------------------


@pytest.mark.parametrize("settings", [{"idempotency_ttl_seconds": 60}])
async def test_a_repeated_key_is_replayed_until_its_lifetime_ends(receiver: Receiver) -> None:
    """Inside the lifetime a repeat gets the original 201; after it, the key is new again."""
    signal = make_signal(0)
    first = await receiver.post(signal)

    receiver.clock.now = T0 + 59
    inside = await receiver.post(signal)

    receiver.clock.now = T0 + 60
    after = await receiver.post(signal)

    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    assert inside.status_code == 201
    assert inside.headers["idempotent-replayed"] == "true"
    assert inside.content == first.content
    assert after.status_code == 201
    assert "idempotent-replayed" not in after.headers
    assert after.json()["server_timestamp"] != first.json()["server_timestamp"]
    ledger = receiver.app.ledger
    assert ledger.accepted_count == 2
    assert [entry.sequence for entry in ledger.accepted] == [1, 2]
    latest = ledger.get(signal.signal_id)
    assert latest is not None
    assert latest.sequence == 2
    assert ledger.deliveries(signal.signal_id) == 3


@pytest.mark.parametrize("settings", [{"idempotency_capacity": 3}])
async def test_a_full_idempotency_store_forgets_its_oldest_key(receiver: Receiver) -> None:
    """With room for 3 keys, the 4th evicts the 1st: a repeat of the 1st is accepted anew."""
    signals = [make_signal(n) for n in range(4)]
    for signal in signals:
        assert (await receiver.post(signal)).status_code == 201
    receiver.clock.now = T0 + 1

    newest_again = await receiver.post(signals[3])
    oldest_again = await receiver.post(signals[0])

    assert newest_again.headers["idempotent-replayed"] == "true"
    assert oldest_again.status_code == 201
    assert "idempotent-replayed" not in oldest_again.headers
    assert receiver.app.ledger.accepted_count == 5
    assert receiver.app.ledger.remembered_keys == 3


def test_expired_keys_are_purged_from_the_store() -> None:
    """Once their lifetime is over, keys no longer take room."""
    clock = Clock()
    ledger = Ledger(idempotency_capacity=10, idempotency_ttl_seconds=5, clock=clock)
    for n in range(4):
        ledger.accept(
            signal_id=f"k{n}",
            instrument="EURUSD",
            idempotency_key=f"k{n}",
            producer_id="bounds-tests",
            body=b"{}",
            headers={},
            response=b"{}",
        )
        clock.now += 1

    assert ledger.remembered_keys == 4
    clock.now = T0 + 6  # k0 and k1 were accepted at T0 and T0 + 1
    assert ledger.remembered_keys == 2


# --- the replay cache ----------------------------------------------------------------------


@pytest.mark.parametrize("settings", [{"replay_cache_capacity": 50}])
async def test_a_full_replay_cache_refuses_with_retry_after_and_forgets_nothing(
    receiver: Receiver,
) -> None:
    """Full of live signatures: new requests get 503 + Retry-After; early replays stay refused."""
    early = [receiver.sign(make_signal(n)) for n in range(50)]
    for request in early:
        assert (await receiver.send(request)).status_code == 201

    refused = await receiver.post(make_signal(50))
    retried_key = await receiver.post(early[0].signal, at=T0 + 0.5)
    replays = [await receiver.send(request) for request in early]
    receiver.clock.now = T0 + 2
    later = await receiver.post(make_signal(51))

    assert refused.status_code == 503
    assert refused.json()["error"] == "replay_cache_full"
    # Signed at T0 with max_age 300: held through T0 + 300, gone after it.
    assert refused.headers["retry-after"] == "301"
    assert retried_key.status_code == 503
    assert {response.status_code for response in replays} == {401}
    assert {response.json()["error"] for response in replays} == {"replayed_signature"}
    assert later.status_code == 503
    assert later.headers["retry-after"] == "299"
    ledger = receiver.app.ledger
    assert ledger.accepted_count == 50
    assert ledger.count(201) == 50
    assert ledger.count(503) == 3
    assert len(receiver.app.replay_window) == 50
    # Neither a refused request nor a rejected replay is a delivery.
    assert ledger.deliveries(make_signal(50).signal_id) == 0
    assert ledger.deliveries(early[0].signal.signal_id) == 1


@pytest.mark.parametrize("settings", [{"replay_cache_capacity": 50}])
async def test_requests_are_accepted_again_once_the_window_has_passed(
    receiver: Receiver,
) -> None:
    """Once the oldest entries leave their window their room is reused; replays are stale."""
    early = [receiver.sign(make_signal(n)) for n in range(50)]
    for request in early:
        assert (await receiver.send(request)).status_code == 201
    assert (await receiver.post(make_signal(50))).status_code == 503

    receiver.clock.now = T0 + 300
    still_full = await receiver.post(make_signal(50))
    receiver.clock.now = T0 + 301
    accepted = await receiver.post(make_signal(50))
    replay = await receiver.send(early[0])

    assert still_full.status_code == 503
    assert still_full.headers["retry-after"] == "1"
    assert accepted.status_code == 201
    assert replay.status_code == 401
    assert replay.json()["error"] == "stale_timestamp"
    assert len(receiver.app.replay_window) == 1
    assert receiver.app.ledger.accepted_count == 51


@pytest.mark.parametrize("settings", [{"replay_cache_capacity": 2}])
async def test_retry_after_counts_to_the_soonest_expiry(receiver: Receiver) -> None:
    """Retry-After is the time until the entry nearest its window's end leaves it, at least 1."""
    assert (await receiver.post(make_signal(0), at=T0 - 299.5)).status_code == 201
    assert (await receiver.post(make_signal(1), at=T0 - 100)).status_code == 201

    nearly_free = await receiver.post(make_signal(2))
    receiver.clock.now = T0 + 1
    one_free = await receiver.post(make_signal(2))
    still_full = await receiver.post(make_signal(3))

    assert nearly_free.status_code == 503
    assert nearly_free.headers["retry-after"] == "1"
    assert one_free.status_code == 201
    assert still_full.status_code == 503
    # make_signal(1) was signed at T0 - 100: it leaves its window after T0 + 200.
    assert still_full.headers["retry-after"] == "200"


def test_replay_window_never_evicts_a_live_entry() -> None:
    """Full: a new signature is refused, a held one is still a replay, an expired one frees room."""
    window = ReplayWindow(2)
    assert window.remember(b"a", expires_at=10.0, now=0.0)
    assert window.remember(b"b", expires_at=20.0, now=0.0)

    with pytest.raises(ReplayWindowFullError) as caught:
        window.remember(b"c", expires_at=30.0, now=1.0)
    assert caught.value.retry_after_seconds == 10
    assert window.remember(b"a", expires_at=10.0, now=10.0) is False
    assert len(window) == 2

    assert window.remember(b"c", expires_at=30.0, now=10.5) is True
    assert window.remember(b"b", expires_at=20.0, now=10.5) is False
    assert len(window) == 2


def test_replay_window_rejects_a_capacity_below_one() -> None:
    """A cache with no room could only refuse everything."""
    with pytest.raises(ValueError, match="capacity"):
        ReplayWindow(0)
