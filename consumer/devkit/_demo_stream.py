"""The demo's stream: realistic signals, a few duplicates, stale and bad records, and what must
happen to each.

What must happen to each record is not assumed from how it was made: every value is judged by
the relay's own validation (`parse_candidate`, `canonical_body`) and age policy (`AgePolicy`), so
the expectation says what the relay will do, not what the generator meant.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import orjson

from consumer.service._freshness import AgePolicy, signal_birth
from consumer.service._prepare import prepare_signal
from schemas.errors import RecordError
from signing.timestamps import format_timestamp

__all__ = [
    "DEMO_MAX_SIGNAL_AGE_SECONDS",
    "INVALID_KINDS",
    "REJECTED_INSTRUMENT",
    "STALE_AGE",
    "DemoStream",
    "Expectation",
    "StreamRecord",
    "build_stream",
]

REJECTED_INSTRUMENT = "TSLA"
"""The demo's receiver answers 422 for this instrument, so its signals end in the DLQ."""

INVALID_KINDS = (
    "truncated_json",
    "nan_confidence",
    "stop_on_wrong_side",
    "unknown_field",
    "oversize",
)

DEMO_MAX_SIGNAL_AGE_SECONDS = 300
"""The demo relay's `RELAY_MAX_SIGNAL_AGE_SECONDS`: fresh signals pass, stale ones expire."""

STALE_AGE = timedelta(hours=2)
"""How old the demo's stale signals are (a publisher catching up after a two-hour outage)."""

_STRATEGIES = ("momentum", "mean-reversion", "breakout", "carry", "news-sentiment", "vwap-revert")
_TIMEFRAMES = ("1m", "5m", "15m", "1h", "4h", "1d")


@dataclass(frozen=True, slots=True)
class _Market:
    instrument: str
    price: Decimal
    tick: Decimal
    weight: int


_MARKETS = (
    _Market("EURUSD", Decimal("1.08520"), Decimal("0.00001"), 14),
    _Market("GBPUSD", Decimal("1.27140"), Decimal("0.00001"), 8),
    _Market("USDJPY", Decimal("151.230"), Decimal("0.001"), 8),
    _Market("BTC-USD", Decimal("67250.50"), Decimal("0.01"), 12),
    _Market("ETH-USD", Decimal("3480.25"), Decimal("0.01"), 8),
    _Market("AAPL", Decimal("189.84"), Decimal("0.01"), 10),
    _Market("MSFT", Decimal("421.15"), Decimal("0.01"), 6),
    _Market("ES.Z26", Decimal("5284.25"), Decimal("0.25"), 10),
    _Market("XAU/USD", Decimal("2351.40"), Decimal("0.01"), 8),
    _Market(REJECTED_INSTRUMENT, Decimal("174.60"), Decimal("0.01"), 4),
)


@dataclass(frozen=True, slots=True)
class StreamRecord:
    """One record to publish.

    Attributes:
        key: the record key (the instrument, as publishers key them).
        value: the record value.
        kind: `signal`, `duplicate` (a second publish of an earlier signal), `stale` (a valid
            signal generated `STALE_AGE` ago) or an invalid kind.
    """

    key: bytes | None
    value: bytes
    kind: str


@dataclass(frozen=True, slots=True)
class Expectation:
    """What the relay and the receiver must end up with once the stream is processed.

    Attributes:
        published: records in the stream.
        signal_ids: every valid signal (duplicates share their original's id).
        deliverable: the valid signals the receiver accepts (all but the rejected instrument's).
        invalid: records the relay refuses to send.
        duplicates: extra publishes of an already published signal.
        stale: valid signals too old to send under the age limit (dead-lettered as `expired`).
        dead_letters: DLQ records expected per `dlq.reason`.
    """

    published: int
    signal_ids: frozenset[str]
    deliverable: frozenset[str]
    invalid: int
    duplicates: int
    dead_letters: Mapping[str, int]
    stale: int = 0

    @property
    def dead_letter_total(self) -> int:
        """DLQ records expected in all."""
        return sum(self.dead_letters.values())


@dataclass(frozen=True, slots=True)
class DemoStream:
    """The records in publishing order and what must become of them."""

    records: tuple[StreamRecord, ...]
    expectation: Expectation


def build_stream(
    signals: int,
    *,
    rng: random.Random,
    max_size: int = 65536,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    max_age_seconds: float | None = None,
) -> DemoStream:
    """`signals` distinct signals with ~2% duplicate publishes, ~2% invalid records and ~1% stale
    signals (at least two) mixed in.

    At least one record of every invalid kind is included. A stale signal is expected to be
    dead-lettered as `expired` when `max_age_seconds` (the relay's limit) is below `STALE_AGE`.
    """
    walk = {market.instrument: market.price for market in _MARKETS}
    weights = [market.weight for market in _MARKETS]
    placed: list[tuple[float, StreamRecord]] = []
    originals: list[tuple[float, StreamRecord]] = []
    for position in range(signals):
        market = rng.choices(_MARKETS, weights)[0]
        body = _signal(rng, market, walk, now())
        record = StreamRecord(market.instrument.encode(), orjson.dumps(body), "signal")
        originals.append((float(position), record))
    placed += originals
    for _ in range(max(1, round(signals * 0.02)) if signals else 0):
        at, original = rng.choice(originals)
        copy = StreamRecord(original.key, original.value, "duplicate")
        placed.append((rng.uniform(at + 0.5, signals), copy))
    for index in range(max(len(INVALID_KINDS), round(signals * 0.02))):
        kind = INVALID_KINDS[index % len(INVALID_KINDS)]
        market = rng.choice(_MARKETS[:-1])
        body = _signal(rng, market, walk, now())
        value = _spoil(kind, body, market, max_size)
        placed.append(
            (rng.uniform(0, signals), StreamRecord(market.instrument.encode(), value, kind))
        )
    for _ in range(max(2, round(signals * 0.01)) if signals else 0):
        market = rng.choice(_MARKETS[:-1])
        body = _signal(rng, market, walk, now() - STALE_AGE)
        stale = StreamRecord(market.instrument.encode(), orjson.dumps(body), "stale")
        placed.append((rng.uniform(0, signals), stale))
    placed.sort(key=lambda entry: entry[0])
    records = tuple(record for _, record in placed)
    return DemoStream(records, _expect(records, max_size, AgePolicy(max_age_seconds), now()))


def _expect(
    records: tuple[StreamRecord, ...], max_size: int, age_policy: AgePolicy, now: datetime
) -> Expectation:
    signal_ids: set[str] = set()
    deliverable: set[str] = set()
    dead: Counter[str] = Counter()
    for record in records:
        try:
            prepared = prepare_signal(record.value, max_size)
        except RecordError as exc:
            dead[exc.dlq_reason] += 1
            continue
        candidate, signal_id = prepared.candidate, prepared.signal.signal_id
        signal_ids.add(signal_id)
        birth = signal_birth(candidate.generated_at, None)
        if age_policy.judge(birth, now.timestamp()) is not None:
            dead["expired"] += 1
        elif candidate.instrument == REJECTED_INSTRUMENT:
            dead["http_4xx"] += 1
        else:
            deliverable.add(signal_id)
    return Expectation(
        published=len(records),
        signal_ids=frozenset(signal_ids),
        deliverable=frozenset(deliverable),
        invalid=sum(record.kind in INVALID_KINDS for record in records),
        duplicates=sum(record.kind == "duplicate" for record in records),
        dead_letters=dict(dead),
        stale=sum(record.kind == "stale" for record in records),
    )


def _signal(
    rng: random.Random, market: _Market, walk: dict[str, Decimal], at: datetime
) -> dict[str, object]:
    """A plausible signal: stop-loss on the losing side, take-profit at 1.5-3x the risk."""
    price = _on_tick(walk[market.instrument] * Decimal(str(1 + rng.gauss(0, 0.001))), market)
    walk[market.instrument] = price
    side = rng.choice(("buy", "sell"))
    risk = max(_on_tick(price * Decimal(str(rng.uniform(0.002, 0.01))), market), market.tick * 2)
    reward = _on_tick(risk * Decimal(str(rng.uniform(1.5, 3.0))), market)
    direction = 1 if side == "buy" else -1
    body: dict[str, object] = {
        "instrument": market.instrument,
        "side": side,
        "entry_price": str(price),
        "stop_loss": str(price - direction * risk),
        "take_profit": str(price + direction * reward),
        "confidence": rng.randint(50, 99) / 100,
        "strategy": rng.choice(_STRATEGIES),
        "timeframe": rng.choice(_TIMEFRAMES),
        "generated_at": format_timestamp(at - timedelta(milliseconds=rng.randint(0, 1500))),
    }
    if rng.random() < 0.5:
        body["signal_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if rng.random() < 0.1:
        body["note"] = f"{market.instrument} {side} setup, {body['timeframe']} close"
    return body


def _on_tick(value: Decimal, market: _Market) -> Decimal:
    ticks = (value / market.tick).to_integral_value(ROUND_HALF_EVEN)
    return (ticks * market.tick).quantize(market.tick)


def _spoil(kind: str, body: dict[str, object], market: _Market, max_size: int) -> bytes:
    """A record a careless publisher might send, broken the way `kind` says."""
    if kind == "truncated_json":
        text = orjson.dumps(body)
        return text[: len(text) // 2]
    if kind == "nan_confidence":
        text = orjson.dumps({k: v for k, v in body.items() if k != "confidence"})
        return text[:-1] + b',"confidence":NaN}'
    if kind == "stop_on_wrong_side":
        body["stop_loss"], body["take_profit"] = body["take_profit"], body["stop_loss"]
        return orjson.dumps(body)
    if kind == "unknown_field":
        return orjson.dumps({**body, "leverage": 20})
    if kind == "oversize":
        return orjson.dumps({**body, "note": "x" * max_size})
    raise ValueError(f"unknown invalid kind {kind!r} for {market.instrument}")
