"""Fault injection: which failures the receiver fakes, and the seeded dice that decide them."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType

from signing.receiver.errors import InvalidFaultsError

__all__ = ["INJECTABLE_STATUSES", "FaultDice", "Faults"]

# 201 would fake an acceptance; 204/205/304 cannot carry the JSON error body.
INJECTABLE_STATUSES = frozenset(
    status
    for status in range(200, 600)
    if status not in {201, 204, 205} and not 300 <= status < 400
)


@dataclass(frozen=True, slots=True)
class Faults:
    """Failures injected into ingest requests; replaced as a whole, never mutated.

    Attributes:
        latency_ms: Delay added to every ingest request before it is handled.
        error_rate: Fraction of ingest requests answered 503 before any processing.
        throttle_rate: Fraction answered 429 with `Retry-After` before any processing.
        retry_after_seconds: The `Retry-After` value of throttled answers.
        drop_rate: Fraction of requests that are processed and accepted (a 201 or an idempotent
            replay), whose connection is then dropped before the response completes.
        status_by_instrument: Valid signed requests for these instruments are answered with the
            given status (and a JSON error body) instead of being accepted.
        reject_instruments: Valid signed requests for these instruments are answered 201 with
            a SignalIngestResponse whose status is `rejected` (the server's verdict: refused).
            The answer is remembered like an acceptance, so a replay repeats the verdict.
        reject_rate: Fraction of the other valid signed requests answered so.
        seed: Seed of the dice; the same seed and the same requests give the same faults.
            `None` seeds from the operating system.
    """

    latency_ms: float = 0.0
    error_rate: float = 0.0
    throttle_rate: float = 0.0
    retry_after_seconds: int = 1
    drop_rate: float = 0.0
    status_by_instrument: Mapping[str, int] = field(default_factory=dict)
    reject_instruments: frozenset[str] = frozenset()
    reject_rate: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.latency_ms) and self.latency_ms >= 0):
            raise InvalidFaultsError(f"latency_ms must be >= 0, got {self.latency_ms!r}")
        for name in ("error_rate", "throttle_rate", "drop_rate", "reject_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise InvalidFaultsError(f"{name} must be within [0, 1], got {rate!r}")
        if self.retry_after_seconds < 0:
            raise InvalidFaultsError(
                f"retry_after_seconds must be >= 0, got {self.retry_after_seconds!r}"
            )
        for instrument, status in self.status_by_instrument.items():
            if status not in INJECTABLE_STATUSES:
                raise InvalidFaultsError(
                    f"status_by_instrument[{instrument!r}] must be a 2xx (not 201/204/205), "
                    f"4xx or 5xx status, got {status!r}"
                )
        object.__setattr__(
            self, "status_by_instrument", MappingProxyType(dict(self.status_by_instrument))
        )
        if isinstance(self.reject_instruments, str):
            raise InvalidFaultsError("reject_instruments must be a collection of instruments")
        object.__setattr__(self, "reject_instruments", frozenset(self.reject_instruments))

    @classmethod
    def from_json(cls, data: object) -> Faults:
        """Build faults from a decoded JSON object; absent fields take their defaults."""
        if not isinstance(data, dict):
            raise InvalidFaultsError("faults must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidFaultsError(f"unknown fault fields: {', '.join(map(str, unknown))}")
        default = cls()
        return cls(
            latency_ms=_number(data, "latency_ms", default.latency_ms),
            error_rate=_number(data, "error_rate", default.error_rate),
            throttle_rate=_number(data, "throttle_rate", default.throttle_rate),
            retry_after_seconds=_integer(data, "retry_after_seconds", default.retry_after_seconds),
            drop_rate=_number(data, "drop_rate", default.drop_rate),
            status_by_instrument=_statuses(data.get("status_by_instrument", {})),
            reject_instruments=_instruments(data.get("reject_instruments", [])),
            reject_rate=_number(data, "reject_rate", default.reject_rate),
            seed=None if data.get("seed") is None else _integer(data, "seed", None),
        )

    def to_json(self) -> dict[str, object]:
        """The JSON object form accepted by `from_json`."""
        return {
            "latency_ms": self.latency_ms,
            "error_rate": self.error_rate,
            "throttle_rate": self.throttle_rate,
            "retry_after_seconds": self.retry_after_seconds,
            "drop_rate": self.drop_rate,
            "status_by_instrument": dict(self.status_by_instrument),
            "reject_instruments": sorted(self.reject_instruments),
            "reject_rate": self.reject_rate,
            "seed": self.seed,
        }


class FaultDice:
    """Rolls the injected failures of each request from one RNG seeded by `Faults.seed`.

    Only the server's event loop rolls; other threads swap in a new `FaultDice` instead of
    touching this one, so a faults change is atomic for every request that follows it.
    """

    __slots__ = ("_rng", "faults")

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._rng = random.Random(faults.seed)  # noqa: S311 - fault injection, not cryptography

    def roll(self, rate: float) -> bool:
        """True with probability `rate`; rates of 0 and 1 consume no randomness."""
        if rate <= 0.0:
            return False
        return rate >= 1.0 or self._rng.random() < rate


def _number(data: Mapping[str, object], name: str, default: float) -> float:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidFaultsError(f"{name} must be a number, got {value!r}")
    return float(value)


def _integer(data: Mapping[str, object], name: str, default: int | None) -> int:
    return _checked_integer(data.get(name, default), name)


def _checked_integer(value: object, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidFaultsError(f"{label} must be an integer, got {value!r}")
    return value


def _instruments(value: object) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(each, str) for each in value):
        raise InvalidFaultsError("reject_instruments must be a list of instrument names")
    return frozenset(value)


def _statuses(value: object) -> dict[str, int]:
    if not isinstance(value, dict):
        raise InvalidFaultsError("status_by_instrument must be an object of instrument: status")
    return {
        str(instrument): _checked_integer(status, f"status_by_instrument[{instrument!r}]")
        for instrument, status in value.items()
    }
