"""The answer to one ingest request: authenticate, validate, then accept, replay or refuse.

Authentication comes first, so an unauthenticated caller learns nothing about bodies. The
verifier checks the HMAC before it binds the idempotency key to the body's `signal_id`, so a
`IdempotencyKeyMismatchError` comes from a genuinely signed request: when its body is broken,
the body's problem (400/422) is the more useful answer than a 401. A genuinely signed request
that the replay cache has no room for (`ReplayWindowFullError`) is answered 503 with
`Retry-After`: the cache never forgets a live signature to make room.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from schemas.candidate import SignalCandidate
from schemas.errors import RecordError, SchemaViolationError
from schemas.record import parse_candidate
from schemas.response import SignalIngestResponse
from signing.errors import IdempotencyKeyMismatchError, VerificationError
from signing.receiver.errors import ReplayWindowFullError
from signing.receiver.faults import Faults
from signing.receiver.ledger import Ledger
from signing.receiver.replies import RawHeaders, Reply, error_reply
from signing.verifier import SignatureVerifier, VerifiedRequest

__all__ = ["IngestOutcome", "IngestPolicy"]

_STATUS_BY_DLQ_REASON: Final = {"invalid_json": 400, "invalid_schema": 422, "too_large": 413}
_REPLAYED: Final[RawHeaders] = ((b"idempotent-replayed", b"true"),)


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """What to answer one ingest request.

    Attributes:
        reply: The answer.
        accepted: True for a 201 (first acceptance or idempotent replay): the signal is in the
            ledger, so a connection drop injected now loses only the answer.
    """

    reply: Reply
    accepted: bool = False


class IngestPolicy:
    """Decides the answer to each ingest request and records it in the ledger."""

    __slots__ = ("_ledger", "_now", "_verifier")

    def __init__(
        self,
        verifier: SignatureVerifier,
        ledger: Ledger,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._verifier = verifier
        self._ledger = ledger
        self._now = now

    def decide(
        self,
        *,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        faults: Faults,
        reject: bool = False,
    ) -> IngestOutcome:
        """The answer to a POST of `body` to `path`; `headers` are keyed by lower-case name.

        `reject` (the dice of `Faults.reject_rate`), or an instrument in
        `Faults.reject_instruments`, makes an acceptance a 201 with status `rejected`.
        """
        try:
            verified = self._verifier.verify(method="POST", path=path, headers=headers, body=body)
        except IdempotencyKeyMismatchError as exc:
            return IngestOutcome(_unbound_body(exc, body))
        except ReplayWindowFullError as exc:
            return IngestOutcome(_replay_window_full(exc))
        except VerificationError as exc:
            return IngestOutcome(error_reply(401, exc.code, str(exc)))
        self._ledger.record_delivery(verified.signal_id)
        try:
            candidate = parse_candidate(body)
        except RecordError as exc:
            return IngestOutcome(_invalid_body(exc))
        injected = faults.status_by_instrument.get(candidate.instrument)
        if injected is not None:
            return IngestOutcome(_injected(injected, candidate.instrument, faults))
        reject = reject or candidate.instrument in faults.reject_instruments
        return self._accept(verified, candidate, headers, body, reject=reject)

    def _accept(
        self,
        verified: VerifiedRequest,
        candidate: SignalCandidate,
        headers: Mapping[str, str],
        body: bytes,
        *,
        reject: bool,
    ) -> IngestOutcome:
        response = (
            SignalIngestResponse(
                signal_id=verified.signal_id,
                status="rejected",
                server_timestamp=self._now(),
                message=f"the receiver rejects signals for {candidate.instrument} on purpose",
                errors=["injected_rejection"],
            )
            if reject
            else SignalIngestResponse(
                signal_id=verified.signal_id, status="received", server_timestamp=self._now()
            )
        )
        answer, replayed = self._ledger.accept(
            signal_id=verified.signal_id,
            instrument=candidate.instrument,
            idempotency_key=verified.idempotency_key,
            producer_id=verified.producer_id,
            body=body,
            headers=headers,
            response=response.model_dump_json(exclude_none=True).encode(),
        )
        return IngestOutcome(Reply(201, answer, _REPLAYED if replayed else ()), accepted=True)


def _unbound_body(exc: IdempotencyKeyMismatchError, body: bytes) -> Reply:
    try:
        candidate = parse_candidate(body)
    except RecordError as invalid:
        return _invalid_body(invalid)
    if candidate.signal_id is None:
        return error_reply(
            422, "missing_signal_id", "body has no signal_id", errors=["signal_id: required"]
        )
    return error_reply(401, exc.code, str(exc))


def _replay_window_full(exc: ReplayWindowFullError) -> Reply:
    return error_reply(
        503,
        "replay_cache_full",
        str(exc),
        headers=((b"retry-after", str(exc.retry_after_seconds).encode("ascii")),),
    )


def _invalid_body(exc: RecordError) -> Reply:
    problems = exc.problems if isinstance(exc, SchemaViolationError) else (str(exc),)
    return error_reply(
        _STATUS_BY_DLQ_REASON.get(exc.dlq_reason, 422), exc.dlq_reason, str(exc), errors=problems
    )


def _injected(status: int, instrument: str, faults: Faults) -> Reply:
    retry_after: RawHeaders = (
        ((b"retry-after", str(faults.retry_after_seconds).encode("ascii")),)
        if status == 429
        else ()
    )
    return error_reply(
        status,
        "injected_status",
        f"the receiver answers {status} for instrument {instrument!r}",
        headers=retry_after,
    )
