"""Errors of the signing package.

The hierarchy::

    SigningError
    ├── SigningInputError              an argument cannot be signed (also a ValueError)
    └── VerificationError              a request is rejected; `code` names why
        ├── MissingHeaderError             missing_header
        ├── DuplicateHeaderError           duplicate_header
        ├── ProducerIdError                invalid_producer_id
        ├── MalformedTimestampError        malformed_timestamp (also a ValueError)
        ├── StaleTimestampError            stale_timestamp
        ├── FutureTimestampError           future_timestamp
        ├── MalformedSignatureError        malformed_signature
        ├── SignatureMismatchError         signature_mismatch
        ├── IdempotencyKeyMismatchError    idempotency_key_mismatch
        └── ReplayedSignatureError         replayed_signature

No message ever carries a secret: errors are built from header texts, limits and lengths only.
"""

from typing import ClassVar


class SigningError(Exception):
    """Base of every error raised by the signing package."""


class SigningInputError(SigningError, ValueError):
    """An argument to a signing function cannot be used (empty, malformed, too short)."""


class VerificationError(SigningError):
    """A signed request is rejected; `code` (also `reason`) is a stable machine-readable name."""

    code: ClassVar[str] = "verification_failed"

    @property
    def reason(self) -> str:
        """The rejection's stable name, the same as the class's `code`."""
        return self.code


class MissingHeaderError(VerificationError):
    """A required header is absent (or its value is not text)."""

    code = "missing_header"


class DuplicateHeaderError(VerificationError):
    """A required header is given twice, in different letter cases, with different values."""

    code = "duplicate_header"


class ProducerIdError(VerificationError):
    """X-Producer-Id does not match `^[A-Za-z0-9._-]{1,64}$`."""

    code = "invalid_producer_id"


class MalformedTimestampError(VerificationError, ValueError):
    """X-Timestamp is not a strict RFC 3339 timestamp with an offset."""

    code = "malformed_timestamp"


class StaleTimestampError(VerificationError):
    """X-Timestamp is older than the freshness window allows."""

    code = "stale_timestamp"


class FutureTimestampError(VerificationError):
    """X-Timestamp lies further in the future than the allowed clock skew."""

    code = "future_timestamp"


class MalformedSignatureError(VerificationError):
    """X-Signature is not canonical padded standard base64 of 32 bytes."""

    code = "malformed_signature"


class SignatureMismatchError(VerificationError):
    """X-Signature matches none of the active secrets."""

    code = "signature_mismatch"


class IdempotencyKeyMismatchError(VerificationError):
    """X-Idempotency-Key differs from the body's `signal_id` (or the body has none)."""

    code = "idempotency_key_mismatch"


class ReplayedSignatureError(VerificationError):
    """The same signature was already accepted inside the freshness window."""

    code = "replayed_signature"
