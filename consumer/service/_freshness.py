"""Whether a signal is still fresh enough to send: the signal-age policy (docs/PROTOCOL.md §7.6).

A trading signal delivered late is worse than none. With `RELAY_MAX_SIGNAL_AGE_SECONDS` set, a
signal's age is measured from its own `generated_at`, or, when it has none, from the Kafka
record's timestamp; a signal older than the limit when an attempt is about to be made is not
sent. The record flow asks before every attempt (the first, each retry, each probe), so a signal
that ages out while it is being retried stops there. Unset, nothing ever expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

__all__ = ["AgePolicy", "Birth", "Expiry", "signal_birth"]


@dataclass(frozen=True, slots=True)
class Birth:
    """When a signal came to be, and what says so.

    Attributes:
        at: epoch seconds.
        source: `generated_at` (the signal's own field) or `record_timestamp` (Kafka's).
    """

    at: float
    source: Literal["generated_at", "record_timestamp"]


@dataclass(frozen=True, slots=True)
class Expiry:
    """A signal too old to send.

    Attributes:
        age_seconds: its age when it was judged.
        max_age_seconds: the limit it is over.
        birth: what its age was measured from.
    """

    age_seconds: float
    max_age_seconds: float
    birth: Birth

    def describe(self) -> str:
        """The dead letter's `dlq.error`: the age, the limit and what the age is measured from."""
        return (
            f"signal is {self.age_seconds:.3f} s old (by {self.birth.source}), "
            f"over RELAY_MAX_SIGNAL_AGE_SECONDS={self.max_age_seconds:g}"
        )


def signal_birth(generated_at: datetime | None, record_timestamp_ms: int | None) -> Birth | None:
    """The signal's `generated_at`, else the record's Kafka timestamp; None without either."""
    if generated_at is not None:
        return Birth(generated_at.timestamp(), "generated_at")
    if record_timestamp_ms is not None and record_timestamp_ms >= 0:
        return Birth(record_timestamp_ms / 1000, "record_timestamp")
    return None


@dataclass(frozen=True, slots=True)
class AgePolicy:
    """The age limit of a signal at delivery time.

    Attributes:
        max_age_seconds: the oldest a signal may be when an attempt starts; None = no limit.
    """

    max_age_seconds: float | None = None

    def judge(self, birth: Birth | None, now: float) -> Expiry | None:
        """The `Expiry` of a signal born at `birth` when judged at epoch second `now`, if expired.

        A signal with no known birth never expires; one whose birth lies in the future (a
        producer's clock ahead of ours) is of age zero.
        """
        if self.max_age_seconds is None or birth is None:
            return None
        age = max(0.0, now - birth.at)
        if age <= self.max_age_seconds:
            return None
        return Expiry(age, self.max_age_seconds, birth)
