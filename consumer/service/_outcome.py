"""What an HTTP attempt means (`Outcome`, `classify`) and how a record ends (`Final`).

docs/PROTOCOL.md §7: an attempt's `Outcome` says what the relay does next; a record's `Final`
outcome says it is done, which makes its offset committable (`consumer/service/_commits.py`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from signing._ingest_verdict import IngestVerdict, Verdict, read_verdict
from signing._retry_after import parse_retry_after

__all__ = ["Decision", "Final", "Outcome", "classify", "parse_retry_after"]

_RETRYABLE_4XX = frozenset({408, 425, 429})
_SYSTEMIC = frozenset({401, 403, 404, 405})
# An IMF-fixdate is 29 characters; longer texts are not a Retry-After value.


class Outcome(enum.Enum):
    """What one attempt means for its record."""

    DELIVERED = "delivered"
    """201: final; the offset may be committed."""
    DUPLICATE = "duplicate"
    """409, or a 201 with `Idempotent-Replayed: true`: the server already has it; final,
    counted apart."""
    REJECTED = "rejected"
    """201 whose SignalIngestResponse.status is `rejected` (replayed or not): the server
    refused the signal; final, never delivered."""
    RETRY = "retry"
    """Transient (408/425/429/5xx, transport error, timeout): try again later, commit nothing."""
    SYSTEMIC = "systemic"
    """401/403/404/405: the relay, not the record, is wrong; pause everything, DLQ nothing."""
    TERMINAL = "terminal"
    """Any other 4xx or a 2xx that is not 201: to the DLQ, then final."""


class Final(enum.Enum):
    """How a record ended: every member is final and makes the record's offset committable.

    `RecordFlow.run` returns one of these (or raises `Abandoned`: no outcome, never committed).
    The value is the `outcome` label of `signal_relay_outcomes_total`; those names are fixed.
    Committable is not committed: in dry run nothing is ever committed (`CommitPolicy.NEVER`).
    """

    DELIVERED = "delivered"
    """The server answered 201: the signal is accepted."""
    DUPLICATE = "duplicate"
    """The server answered 409, or 201 with `Idempotent-Replayed: true`: it already had the
    signal (an earlier attempt delivered it)."""
    REJECTED = "rejected"
    """The server answered 201 with status `rejected`: it refused the signal. Dead-lettered
    too (reason `rejected`) when `RELAY_DEAD_LETTER_REJECTED` is true; counted here either way."""
    DEAD_LETTERED = "dead_lettered"
    """The record is in the DLQ, acknowledged (acks=all): invalid, undecodable, a terminal answer,
    or out of attempts."""
    DRY_RUN = "dry_run"
    """Dry run: validated and signed, logged, not sent."""
    DRY_RUN_DEAD_LETTER = "dry_run_dead_letter"
    """Dry run: it would have been dead-lettered; logged, not written."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The classification of one attempt.

    Attributes:
        outcome: what to do next.
        dlq_reason: the `dlq.reason` header value for a terminal outcome.
        retry_after: seconds the server asked us to wait, when it said so.
        verdict: the server's verdict read from a 201's body, for a `REJECTED` outcome.
    """

    outcome: Outcome
    dlq_reason: str | None = None
    retry_after: float | None = None
    verdict: IngestVerdict | None = None


_TRANSPORT_FAILURE = Decision(Outcome.RETRY)
_DELIVERED = Decision(Outcome.DELIVERED)
_REPLAYED = Decision(Outcome.DUPLICATE)


def _is_replay(headers: Mapping[str, str] | None) -> bool:
    """A 201 that answers an idempotency key the server had already accepted."""
    return headers is not None and headers.get("idempotent-replayed", "").strip().lower() == "true"


def classify(
    status: int | None,
    headers: Mapping[str, str] | None = None,
    *,
    tls_refusal: str | None = None,
    body: bytes = b"",
) -> Decision:
    """Decide what an HTTP status (None: no response at all) means for the record.

    A 201's `body` (as read: at most 4 KiB) holds the server's verdict, read as `HmacClient`
    reads it (`signing._ingest_verdict.read_verdict`): `rejected` is final and no delivery,
    even when replayed, for the replay repeats the server's verdict on this very signal; any
    other body, or none, leaves the 201 delivered (or a duplicate when replayed).

    A TLS refusal (`tls_refusal`, an OpenSSL reason: the server rejects our certificate or we
    reject its) is systemic like a 401: the relay's certificates are wrong, not the record.
    """
    if tls_refusal is not None:
        return Decision(Outcome.SYSTEMIC)
    if status is None:
        return _TRANSPORT_FAILURE
    if status == 201:
        verdict = read_verdict(body)
        if verdict.verdict is Verdict.REJECTED:
            return Decision(Outcome.REJECTED, dlq_reason="rejected", verdict=verdict)
        return _REPLAYED if _is_replay(headers) else _DELIVERED
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
