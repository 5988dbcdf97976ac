"""Whether a record value can be sent, and the exact bytes that would be.

One rule for everyone who needs it: the relay (`record_flow`), `signal-relay publish` and the
demo's expectations. A value is sendable when it parses and validates (`schemas`) and its
canonical body (`signing`) still fits `OUTBOUND_MAX_BODY_SIZE`: canonicalising can grow a value,
e.g. an exponent written out in plain notation.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.candidate import SignalCandidate
from schemas.errors import RecordTooLargeError
from schemas.record import parse_candidate
from signing.canonical import CanonicalSignal, canonical_body

__all__ = ["CanonicalTooLargeError", "Prepared", "prepare_signal"]


class CanonicalTooLargeError(RecordTooLargeError):
    """The value fits, but its canonical body does not; the signal's id is already known."""

    def __init__(self, message: str, *, signal_id: str) -> None:
        super().__init__(message)
        self.signal_id = signal_id


@dataclass(frozen=True, slots=True)
class Prepared:
    """A sendable record.

    Attributes:
        candidate: the validated signal.
        signal: its canonical body and signal_id, exactly as they will be sent.
    """

    candidate: SignalCandidate
    signal: CanonicalSignal


def prepare_signal(raw: bytes | None, max_body_size: int) -> Prepared:
    """The sendable form of a record value, or the `RecordError` that makes it unsendable."""
    candidate = parse_candidate(raw, max_size=max_body_size)
    signal = canonical_body(candidate)
    if len(signal.body) > max_body_size:
        raise CanonicalTooLargeError(
            f"canonical body is {len(signal.body)} bytes, over the {max_body_size}-byte limit",
            signal_id=signal.signal_id,
        )
    return Prepared(candidate, signal)
