"""Whether a record value can be sent, and the exact bytes that would be.

One rule for everyone who needs it: the relay (`record_flow`), `signal-relay publish` and the
demo's expectations. A value is sendable when it parses and validates (`schemas`) and its
canonical body (`signing`) still fits `OUTBOUND_MAX_BODY_SIZE`: canonicalising can grow a value,
e.g. an exponent written out in plain notation.

Two paths, one answer. The common valid record goes from its bytes straight to its canonical
body (`schemas.record.common_fields`, `signing.canonical.canonical_fields`), building no
model: this is the relay's hot path. Any other value takes the model's path, which gives the
same body for a valid record and the reasons for an invalid one.
"""

from __future__ import annotations

from datetime import datetime

from consumer.errors import SignalRelayError
from schemas.candidate import SignalCandidate
from schemas.errors import RecordTooLargeError
from schemas.record import common_fields, parse_candidate
from signing.canonical import CanonicalSignal, canonical_body, canonical_fields

__all__ = ["CanonicalTooLargeError", "Prepared", "prepare_signal"]


class CanonicalTooLargeError(SignalRelayError, RecordTooLargeError):
    """The value fits, but its canonical body does not; the signal's id is already known."""

    def __init__(self, message: str, *, signal_id: str) -> None:
        super().__init__(message)
        self.signal_id = signal_id


class Prepared:
    """A sendable record.

    Attributes:
        signal: its canonical body and signal_id, exactly as they will be sent.
        generated_at: the record's `generated_at` in UTC, or None when it has none.
    """

    __slots__ = ("_source", "generated_at", "signal")

    def __init__(
        self,
        signal: CanonicalSignal,
        generated_at: datetime | None,
        source: SignalCandidate | bytes,
    ) -> None:
        self.signal = signal
        self.generated_at = generated_at
        self._source = source  # the candidate, or the value it is parsed from when asked for

    @property
    def candidate(self) -> SignalCandidate:
        """The validated signal (the relay's common path builds it only when asked)."""
        if not isinstance(self._source, SignalCandidate):
            self._source = parse_candidate(self._source)
        return self._source


def prepare_signal(raw: bytes | None, max_body_size: int) -> Prepared:
    """The sendable form of a record value, or the `RecordError` that makes it unsendable."""
    if raw and len(raw) <= max_body_size and (fields := common_fields(raw)) is not None:
        prepared = Prepared(canonical_fields(fields), fields.get("generated_at"), raw)
    else:
        candidate = parse_candidate(raw, max_size=max_body_size)
        prepared = Prepared(canonical_body(candidate), candidate.generated_at, candidate)
    signal = prepared.signal
    if len(signal.body) > max_body_size:
        raise CanonicalTooLargeError(
            f"canonical body is {len(signal.body)} bytes, over the {max_body_size}-byte limit",
            signal_id=signal.signal_id,
        )
    return prepared
