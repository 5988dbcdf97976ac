"""Classify an HTTP attempt into what the relay does next (CONTRACT section 4)."""

from __future__ import annotations

import enum
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

__all__ = ["Decision", "Outcome", "classify", "parse_retry_after"]

_RETRYABLE_4XX = frozenset({408, 425, 429})
_SYSTEMIC = frozenset({401, 403, 404, 405})


class Outcome(enum.Enum):
    """What one attempt means for its record."""

    DELIVERED = "delivered"
    """201: final; the offset may be committed."""
    DUPLICATE = "duplicate"
    """409: the server already has it; final, counted apart."""
    RETRY = "retry"
    """Transient (408/425/429/5xx, transport error, timeout): try again later, commit nothing."""
    SYSTEMIC = "systemic"
    """401/403/404/405: the relay, not the record, is wrong; pause everything, DLQ nothing."""
    TERMINAL = "terminal"
    """Any other 4xx or a 2xx that is not 201: to the DLQ, then final."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The classification of one attempt.

    Attributes:
        outcome: what to do next.
        dlq_reason: the `dlq.reason` header value for a terminal outcome.
        retry_after: seconds the server asked us to wait, when it said so.
    """

    outcome: Outcome
    dlq_reason: str | None = None
    retry_after: float | None = None


_TRANSPORT_FAILURE = Decision(Outcome.RETRY)


def classify(status: int | None, headers: Mapping[str, str] | None = None) -> Decision:
    """Decide what an HTTP status (None: no response at all) means for the record."""
    if status is None:
        return _TRANSPORT_FAILURE
    if status == 201:
        return Decision(Outcome.DELIVERED)
    if status == 409:
        return Decision(Outcome.DUPLICATE)
    if 200 <= status < 300:
        return Decision(Outcome.TERMINAL, dlq_reason="unexpected_2xx")
    if status in _SYSTEMIC:
        return Decision(Outcome.SYSTEMIC)
    if status in _RETRYABLE_4XX or status >= 500 or status < 200:
        retry_after = parse_retry_after(headers.get("retry-after")) if headers else None
        return Decision(Outcome.RETRY, retry_after=retry_after)
    if 400 <= status < 500:
        return Decision(Outcome.TERMINAL, dlq_reason="http_4xx")
    # 3xx: redirects are not followed for a signed POST; the endpoint is misconfigured.
    return Decision(Outcome.SYSTEMIC)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, moment.timestamp() - current)
