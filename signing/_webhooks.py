"""The Standard Webhooks signing profile (`OUTBOUND_SIGNING_PROFILE=standard-webhooks`).

The Standard Webhooks specification (standardwebhooks.com, symmetric scheme) signs
`"{webhook-id}.{webhook-timestamp}.{body}"` with HMAC-SHA256 and sends three headers::

    webhook-id: <signal_id>
    webhook-timestamp: <unix seconds, an integer>
    webhook-signature: v1,<padded standard base64 of the HMAC>

The secret: a `whsec_`-prefixed value (the form the specification and every Standard Webhooks
library use) is the base64 of the key, so its decoded bytes are the key; any other secret is
used as its raw bytes, as the seed profile uses it (a library must then be given those bytes).
Either way the key is at least 16 bytes (the specification recommends 24 to 64).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
from collections.abc import Mapping
from typing import Final

from signing.errors import (
    MalformedSignatureError,
    MalformedTimestampError,
    MissingHeaderError,
    SigningInputError,
)
from signing.headers import CONTENT_TYPE_HEADER, JSON_CONTENT_TYPE, check_signal_id
from signing.signature import MIN_SECRET_BYTES

__all__ = [
    "WEBHOOK_ID_HEADER",
    "WEBHOOK_SECRET_PREFIX",
    "WEBHOOK_SIGNATURE_HEADER",
    "WEBHOOK_TIMESTAMP_HEADER",
    "WebhookHeaders",
    "webhook_headers",
    "webhook_key",
    "webhook_signature",
    "webhook_signatures",
]

WEBHOOK_ID_HEADER: Final = "webhook-id"
WEBHOOK_TIMESTAMP_HEADER: Final = "webhook-timestamp"
WEBHOOK_SIGNATURE_HEADER: Final = "webhook-signature"
WEBHOOK_SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - a prefix, not a secret

_PREFIX_BYTES = WEBHOOK_SECRET_PREFIX.encode()
_VERSION = "v1"
_MAX_TIMESTAMP_DIGITS = 12
_MAX_SIGNATURES = 16


def webhook_key(secret: str | bytes) -> bytes:
    """The HMAC key of `secret`: a `whsec_` value's decoded bytes, any other secret's raw bytes.

    Raises SigningInputError for a `whsec_` value that is not base64, or a key shorter than
    16 bytes.
    """
    if isinstance(secret, str):
        try:
            raw = secret.encode()
        except UnicodeEncodeError:
            raise SigningInputError("secret is not encodable as UTF-8") from None
    else:
        raw = bytes(secret)
    key = raw
    if raw.startswith(_PREFIX_BYTES):
        encoded = raw[len(_PREFIX_BYTES) :]
        try:
            # Unpadded base64 is accepted, as the Standard Webhooks libraries accept it.
            key = base64.b64decode(encoded + b"=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise SigningInputError(f"a {WEBHOOK_SECRET_PREFIX} secret must be base64") from None
    if len(key) < MIN_SECRET_BYTES:
        raise SigningInputError(
            f"secret must be a key of at least {MIN_SECRET_BYTES} bytes; got {len(key)} bytes"
        )
    return key


def webhook_signature(key: bytes, message_id: str, timestamp: str, body: bytes) -> bytes:
    """HMAC-SHA256 of `"{message_id}.{timestamp}.{body}"` under `key` (the raw 32 bytes)."""
    return hmac.digest(key, f"{message_id}.{timestamp}.".encode() + body, "sha256")


def webhook_headers(key: bytes, body: bytes, *, signal_id: str, at: float) -> dict[str, str]:
    """The Standard Webhooks headers of `body` as of epoch second `at` (whole seconds).

    Raises SigningInputError for a signal id that cannot be a message id (not visible ASCII,
    or containing the "." that delimits the signed content).
    """
    check_signal_id(signal_id)
    if "." in signal_id:
        raise SigningInputError("signal_id must not contain '.' (it delimits the signed content)")
    timestamp = str(math.floor(at))
    digest = base64.b64encode(webhook_signature(key, signal_id, timestamp, body)).decode("ascii")
    return {
        CONTENT_TYPE_HEADER: JSON_CONTENT_TYPE,
        WEBHOOK_ID_HEADER: signal_id,
        WEBHOOK_TIMESTAMP_HEADER: timestamp,
        WEBHOOK_SIGNATURE_HEADER: f"{_VERSION},{digest}",
    }


class WebhookHeaders:
    """The three Standard Webhooks headers of one request, read and checked for shape.

    Attributes:
        message_id: `webhook-id`.
        timestamp: `webhook-timestamp` exactly as sent.
        epoch: that timestamp in seconds.
        signatures: the decoded `v1` signatures of `webhook-signature` (other versions are
            skipped, as the specification says).
    """

    __slots__ = ("epoch", "message_id", "signatures", "timestamp")

    def __init__(self, message_id: str, timestamp: str, signature: str) -> None:
        if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > (
            _MAX_TIMESTAMP_DIGITS
        ):
            raise MalformedTimestampError(f"{WEBHOOK_TIMESTAMP_HEADER} must be whole unix seconds")
        self.message_id = message_id
        self.timestamp = timestamp
        self.epoch = float(int(timestamp))
        self.signatures = webhook_signatures(signature)

    @classmethod
    def read(cls, headers: Mapping[str, str]) -> WebhookHeaders:
        """The headers of a request, names in any letter case; MissingHeaderError if absent."""
        found = {
            key.lower(): value
            for key, value in headers.items()
            if isinstance(key, str) and key.isascii() and isinstance(value, str)
        }
        names = (WEBHOOK_ID_HEADER, WEBHOOK_TIMESTAMP_HEADER, WEBHOOK_SIGNATURE_HEADER)
        missing = [name for name in names if not found.get(name)]
        if missing:
            raise MissingHeaderError(f"missing header(s): {', '.join(missing)}")
        return cls(*(found[name] for name in names))


def webhook_signatures(header: str) -> tuple[bytes, ...]:
    """The `v1` signatures of a `webhook-signature` value; MalformedSignatureError if none."""
    found: list[bytes] = []
    for item in header.split(" ")[:_MAX_SIGNATURES]:
        version, _, encoded = item.partition(",")
        if version != _VERSION:
            continue
        try:
            found.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            continue
    if not found:
        raise MalformedSignatureError(f"{WEBHOOK_SIGNATURE_HEADER} holds no v1,<base64> signature")
    return tuple(found)
