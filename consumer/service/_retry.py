"""Backoff between attempts: exponential with full jitter, `Retry-After` honoured up to a cap."""

from __future__ import annotations

import random
from dataclasses import dataclass

from consumer.config import RetrySettings

__all__ = ["RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry policy as data; `delay()` is the only decision it makes."""

    settings: RetrySettings

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based).

        Full jitter: uniform in [0, min(max, base * 2**(attempt-1))]. A `Retry-After` from the
        server is a floor, capped at `retry_after_cap_seconds` so a hostile or broken server
        cannot park a key for hours.
        """
        s = self.settings
        ceiling = min(s.max_seconds, s.base_seconds * 2 ** min(attempt - 1, 30))
        jittered = random.uniform(0, ceiling)  # noqa: S311 - jitter, not cryptography
        if retry_after is None:
            return jittered
        return max(jittered, min(retry_after, s.retry_after_cap_seconds))

    @classmethod
    def testing(cls, *, max_attempts: int = 0, retry_after_cap_seconds: float = 0.0) -> RetryPolicy:
        """A policy without backoff (stamina's `set_testing`): retries follow at once.

        A `Retry-After` is still honoured, up to `retry_after_cap_seconds` (0: not at all).
        """
        return cls(
            RetrySettings(
                base_seconds=0.0,
                max_seconds=0.0,
                retry_after_cap_seconds=retry_after_cap_seconds,
                max_attempts=max_attempts,
            )
        )

    def exhausted(self, attempt: int) -> bool:
        """True when `attempt` attempts are all a record may have."""
        return self.settings.max_attempts > 0 and attempt >= self.settings.max_attempts
