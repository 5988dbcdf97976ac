"""The canonical request and its HMAC-SHA256 signature (docs/PROTOCOL.md §4), seed-compatible.

The canonical request is five lines joined by "\\n", no trailing newline, UTF-8::

    METHOD:<method>
    ENDPOINT:<request path>
    TIMESTAMP:<X-Timestamp>
    PRODUCER_ID:<X-Producer-Id>
    BODY_SHA256:<standard padded base64 of SHA-256(body)>

X-Signature is the standard padded base64 of HMAC-SHA256(secret, canonical request).
"""

import base64
import contextlib
import hashlib
import hmac
import re
from typing import Final

from signing.errors import MalformedSignatureError, SigningInputError
from signing.timestamps import parse_timestamp

DEFAULT_METHOD: Final = "POST"
DEFAULT_ENDPOINT: Final = "/api/v1/signals/ingest"
MIN_SECRET_BYTES: Final = 16
SIGNATURE_BYTES: Final = 32

_PRODUCER_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_SIGNATURE_TEXT_LENGTH = 44  # base64 of 32 bytes: 43 characters and one "=" of padding
_LINE_BREAKS = 4  # between the five lines of a canonical request


def is_valid_producer_id(producer_id: str) -> bool:
    """Whether `producer_id` matches the contract's `^[A-Za-z0-9._-]{1,64}$`."""
    return isinstance(producer_id, str) and _PRODUCER_ID.fullmatch(producer_id) is not None


def encode_secret(secret: str | bytes) -> bytes:
    """The secret's bytes (UTF-8 for text), checked to be at least MIN_SECRET_BYTES long."""
    if isinstance(secret, str):
        try:
            raw = secret.encode()
        except UnicodeEncodeError:
            raise SigningInputError("secret is not encodable as UTF-8") from None
    elif isinstance(secret, bytes | bytearray | memoryview):
        raw = bytes(secret)
    else:
        raise SigningInputError(f"secret must be str or bytes, not {type(secret).__name__}")
    if len(raw) < MIN_SECRET_BYTES:
        raise SigningInputError(
            f"secret must be at least {MIN_SECRET_BYTES} bytes; got {len(raw)} bytes"
        )
    return raw


def canonical_request(
    method: str, endpoint: str, timestamp: str, producer_id: str, body: bytes
) -> bytes:
    """The exact bytes that are signed for one request.

    A line break inside a field would let one field masquerade as the next, so any "\\r" or
    "\\n" raises SigningInputError, as does text that is not encodable as UTF-8.
    """
    body_digest = base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")
    text = (
        f"METHOD:{method}\nENDPOINT:{endpoint}\nTIMESTAMP:{timestamp}\n"
        f"PRODUCER_ID:{producer_id}\nBODY_SHA256:{body_digest}"
    )
    if text.count("\n") != _LINE_BREAKS or "\r" in text:
        raise SigningInputError("method, endpoint, timestamp and producer_id must be one line each")
    try:
        return text.encode()
    except UnicodeEncodeError:
        raise SigningInputError("request fields are not encodable as UTF-8") from None


def signature_digest(secret: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 of a canonical request under one already encoded secret."""
    return hmac.digest(secret, message, "sha256")


def build_signature(
    secret: str | bytes,
    body: bytes,
    timestamp: str,
    producer_id: str,
    *,
    method: str = DEFAULT_METHOD,
    endpoint: str = DEFAULT_ENDPOINT,
) -> str:
    """X-Signature for a request: padded standard base64 of HMAC-SHA256 of its canonical form.

    Raises SigningInputError for input a verifier would refuse anyway (short secret, empty or
    malformed producer id, empty or non-RFC 3339 timestamp, empty method, relative endpoint),
    so that a bug shows up at signing time instead of as a 401.
    """
    digest = _checked_digest(secret, body, timestamp, producer_id, method=method, endpoint=endpoint)
    return base64.b64encode(digest).decode("ascii")


def verify_signature(
    secret: str | bytes,
    body: bytes,
    timestamp: str,
    producer_id: str,
    provided_signature: str | bytes,
    *,
    method: str = DEFAULT_METHOD,
    endpoint: str = DEFAULT_ENDPOINT,
) -> bool:
    """Whether `provided_signature` is build_signature's result for these inputs.

    Compares in constant time and never raises: malformed input of any kind is simply False.
    """
    try:
        provided = decode_signature(provided_signature)
        expected = _checked_digest(
            secret, body, timestamp, producer_id, method=method, endpoint=endpoint
        )
    except Exception:  # whatever is wrong with the input, it is not a valid signature
        return False
    return hmac.compare_digest(expected, provided)


def decode_signature(signature: str | bytes) -> bytes:
    """The 32 bytes an X-Signature text encodes; only the canonical spelling is accepted.

    Re-encoding must give back the exact text, which rejects whitespace, missing padding,
    the URL-safe alphabet and non-zero unused trailing bits (one digest, one spelling, so a
    replay cannot slip through as an alternative encoding). Raises MalformedSignatureError.
    """
    if isinstance(signature, str):
        raw = signature.encode("ascii") if signature.isascii() else b""
    elif isinstance(signature, bytes):
        raw = signature
    else:
        raise MalformedSignatureError(f"signature must be text, not {type(signature).__name__}")
    if len(raw) == _SIGNATURE_TEXT_LENGTH:
        with contextlib.suppress(ValueError):
            decoded = base64.b64decode(raw, validate=True)
            if len(decoded) == SIGNATURE_BYTES and base64.b64encode(decoded) == raw:
                return decoded
    raise MalformedSignatureError(
        f"signature is not padded standard base64 of {SIGNATURE_BYTES} bytes"
        f" ({_SIGNATURE_TEXT_LENGTH} characters)"
    )


def _checked_digest(
    secret: str | bytes,
    body: bytes,
    timestamp: str,
    producer_id: str,
    *,
    method: str,
    endpoint: str,
) -> bytes:
    key = encode_secret(secret)
    if not producer_id:
        raise SigningInputError("producer_id is empty")
    if not is_valid_producer_id(producer_id):
        raise SigningInputError("producer_id must match ^[A-Za-z0-9._-]{1,64}$")
    if not timestamp:
        raise SigningInputError("timestamp is empty")
    try:
        parse_timestamp(timestamp)
    except ValueError as exc:
        raise SigningInputError(str(exc)) from exc
    if not method:
        raise SigningInputError("method is empty")
    if not endpoint.startswith("/"):
        raise SigningInputError("endpoint must be a path starting with '/'")
    return signature_digest(key, canonical_request(method, endpoint, timestamp, producer_id, body))
