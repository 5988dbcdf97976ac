"""Errors of the signing package: one root, `SigningError`, that every exception class defined
under `signing/` derives from (`tests/test_error_roots.py` keeps this tree and the code equal).

The hierarchy::

    SigningError
    ├── SigningInputError              an argument cannot be signed (also a ValueError)
    ├── VerificationError              a request is rejected; `code` names why
    │   ├── MissingHeaderError             missing_header
    │   ├── DuplicateHeaderError           duplicate_header
    │   ├── ProducerIdError                invalid_producer_id
    │   ├── MalformedTimestampError        malformed_timestamp (also a ValueError)
    │   ├── StaleTimestampError            stale_timestamp
    │   ├── FutureTimestampError           future_timestamp
    │   ├── MalformedSignatureError        malformed_signature
    │   ├── SignatureMismatchError         signature_mismatch
    │   ├── IdempotencyKeyMismatchError    idempotency_key_mismatch
    │   └── ReplayedSignatureError         replayed_signature
    ├── ClientCertificateError         the client certificate does not load; `part` says which
    │                                  file (`_tls.py`; also a ValueError)
    ├── OutboundError                  anything HmacClient or OutboundConfig raises
    │   │                              (`_client_errors.py`)
    │   ├── OutboundConfigError            a setting is missing or invalid (also a ValueError)
    │   ├── OutboundSignatureError         the request cannot be signed: secret, producer id,
    │   │                                  signing time (also a ValueError)
    │   ├── OutboundSignalError            the signal is invalid or too large; nothing was sent
    │   │   │                              (also a ValueError)
    │   │   └── OutboundIdempotencyKeyError    a caller's key differs from the body's signal_id
    │   ├── OutboundDisabledError          HMAC_PRODUCER_ENABLED is false: signed, not sent
    │   └── OutboundClientError            the server's answer is not a 201 with its body, or
    │       │                              none came; `http_code`, `details` (other 4xx, a 2xx
    │       │                              that is not 201: terminal)
    │       ├── OutboundRetriableError         408, 425, 429, 5xx: try again later; `retry_after`
    │       │   └── OutboundTransportError         no answer: connect/read error, timeout
    │       ├── OutboundSystemicError          401, 403, 404, 405, 3xx: the client, not the
    │       │                                  signal, is wrong; retrying won't help
    │       ├── OutboundDuplicateError         409: the server already has this signal
    │       └── OutboundResponseError          201, but the body is not a SignalIngestResponse:
    │                                          delivered all the same
    ├── ReceiverError                  the reference receiver (`receiver/errors.py`)
    │   ├── InvalidReceiverConfigError     a ReceiverConfig value is out of range (also a
    │   │                                  ValueError)
    │   ├── InvalidFaultsError             a Faults value (or its JSON form) is out of range
    │   │                                  (also a ValueError)
    │   ├── ReceiverStartError             the server thread did not start accepting
    │   │                                  connections (also a RuntimeError)
    │   ├── DeliberateDropError            escapes the app on purpose: the `drop_rate` fault
    │   └── ReplayWindowFullError          the replay cache is full of live signatures (503)
    └── ClientDisconnectedError        the receiver's client went away before its body was
                                       complete (`receiver/asgi.py`)

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
