"""The protocol's header names and the signed header set of one delivery attempt."""

from typing import Final

from signing.errors import SigningInputError
from signing.signature import DEFAULT_METHOD, build_signature

CONTENT_TYPE_HEADER: Final = "Content-Type"
PRODUCER_ID_HEADER: Final = "X-Producer-Id"
TIMESTAMP_HEADER: Final = "X-Timestamp"
SIGNATURE_HEADER: Final = "X-Signature"
IDEMPOTENCY_KEY_HEADER: Final = "X-Idempotency-Key"
JSON_CONTENT_TYPE: Final = "application/json"


def signed_headers(
    secret: str | bytes,
    body: bytes,
    *,
    signal_id: str,
    producer_id: str,
    endpoint: str,
    timestamp: str,
    method: str = DEFAULT_METHOD,
) -> dict[str, str]:
    """The headers that authenticate `body`: content type, producer, timestamp, signature, key.

    The idempotency key is the signal id. User-Agent is the HTTP client's business, not added
    here. Raises SigningInputError for a signal id that cannot be a header value, and whatever
    build_signature raises for the other arguments.
    """
    check_signal_id(signal_id)
    signature = build_signature(
        secret, body, timestamp, producer_id, method=method, endpoint=endpoint
    )
    return header_set(signal_id, producer_id, timestamp, signature)


def check_signal_id(signal_id: str) -> None:
    """Raise SigningInputError unless `signal_id` can be an X-Idempotency-Key value."""
    # Visible ASCII, 0x21-0x7E: ASCII and printable (no control character), and no space.
    if not (signal_id and signal_id.isascii() and signal_id.isprintable()) or " " in signal_id:
        raise SigningInputError("signal_id must be non-empty visible ASCII (no spaces)")


def header_set(signal_id: str, producer_id: str, timestamp: str, signature: str) -> dict[str, str]:
    """The protocol headers of one request from their already checked values."""
    return {
        CONTENT_TYPE_HEADER: JSON_CONTENT_TYPE,
        PRODUCER_ID_HEADER: producer_id,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature,
        IDEMPOTENCY_KEY_HEADER: signal_id,
    }
