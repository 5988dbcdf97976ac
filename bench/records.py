"""Realistic signal records for the benchmarks: 200 instruments, every optional field in play."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import orjson

__all__ = ["INSTRUMENTS", "SECRET", "BenchRecord", "bench_records", "instruments"]

SECRET = "bench-secret-0123456789abcdef"
INSTRUMENTS = 200
_STRATEGIES = ("breakout-v2", "mean-revert", "momentum-15", "pairs-eu")
_TIMEFRAMES = ("1m", "5m", "15m", "1h", "4h")
_EPOCH = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
_PUBLISHER_ZONE = timezone(timedelta(hours=2))


@dataclass(frozen=True, slots=True)
class BenchRecord:
    """One Kafka record of the backlog.

    Attributes:
        key: the instrument, as publishers key records.
        value: the JSON value bytes.
    """

    key: bytes
    value: bytes


def instruments(count: int = INSTRUMENTS) -> list[str]:
    """`count` distinct instrument symbols (the Kafka keys)."""
    return [f"SYM{n:03d}/USD" for n in range(count)]


def bench_records(
    count: int, *, keys: int = INSTRUMENTS, seed: int = 17, tag: str = ""
) -> Iterator[BenchRecord]:
    """`count` valid signals spread round-robin over `keys` instruments.

    Half carry their own `signal_id` and half leave it to be derived; prices are strings or
    JSON numbers, `generated_at` has a +02:00 offset, a third carry a note. `tag` goes into
    every strategy, so that two backlogs never share a derived signal_id.
    """
    rng = random.Random(seed)
    symbols = instruments(keys)
    for n in range(count):
        yield BenchRecord(symbols[n % keys].encode(), orjson.dumps(_signal(rng, symbols, n, tag)))


def _signal(rng: random.Random, symbols: list[str], n: int, tag: str) -> dict[str, object]:
    side = "buy" if n % 2 == 0 else "sell"
    entry = round(rng.uniform(10, 5000), 2)
    step = round(entry * rng.uniform(0.005, 0.03), 2) + 0.01
    stop, take = (entry - step, entry + 2 * step) if side == "buy" else (entry + step, entry - step)
    signal: dict[str, object] = {
        "instrument": symbols[n % len(symbols)],
        "side": side,
        "entry_price": f"{entry:.2f}" if n % 3 else entry,
        "stop_loss": f"{stop:.2f}",
        "take_profit": f"{max(take, 0.01):.2f}",
        "confidence": f"{rng.uniform(0.3, 0.99):.3f}",
        "strategy": f"{_STRATEGIES[n % len(_STRATEGIES)]}{tag}",
        "timeframe": _TIMEFRAMES[n % len(_TIMEFRAMES)],
        "generated_at": (_EPOCH + timedelta(milliseconds=n))
        .astimezone(_PUBLISHER_ZONE)
        .isoformat(),
    }
    if n % 2:
        signal["signal_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if n % 3 == 0:
        signal["note"] = f"seq={n}; breakout above the 20-bar high with rising volume"
    return signal
