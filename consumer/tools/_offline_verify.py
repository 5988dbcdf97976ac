"""`signal-relay verify`: check one captured signed request offline with the server's verifier.

The verdict is exactly what `signing.verifier.SignatureVerifier` would answer for the request
at the moment of the check; with freshness off, the check pretends to run at the instant the
request was signed, so an old capture is judged on its signature and binding alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson

from signing._webhooks import (
    WEBHOOK_ID_HEADER,
    WEBHOOK_SIGNATURE_HEADER,
    WEBHOOK_TIMESTAMP_HEADER,
)
from signing.errors import MalformedTimestampError, VerificationError
from signing.headers import (
    IDEMPOTENCY_KEY_HEADER,
    PRODUCER_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
)
from signing.timestamps import parse_timestamp
from signing.verifier import (
    DEFAULT_MAX_AGE_SECONDS,
    DEFAULT_MAX_FUTURE_SECONDS,
    SignatureVerifier,
)

__all__ = ["CapturedRequest", "Verdict", "check_capture"]


@dataclass(frozen=True, slots=True, repr=False)
class CapturedRequest:
    """A signed request as it was sent.

    Attributes:
        method, path: the request line (path without the query).
        body: the exact body bytes.
        timestamp, producer_id, signature: X-Timestamp, X-Producer-Id, X-Signature.
        idempotency_key: X-Idempotency-Key; None to take the body's `signal_id` (then only the
            signature is checked, not that binding).
        profile: `seed`, or `standard-webhooks`: then `timestamp`, `signature` and
            `idempotency_key` are `webhook-timestamp`, `webhook-signature` and `webhook-id`,
            and `producer_id` is not used.
    """

    method: str
    path: str
    body: bytes
    timestamp: str
    producer_id: str
    signature: str
    idempotency_key: str | None = None
    profile: str = "seed"

    def __repr__(self) -> str:
        return (
            f"CapturedRequest(method={self.method!r}, path={self.path!r}, "
            f"body=<{len(self.body)} bytes>, timestamp={self.timestamp!r}, "
            f"producer_id={self.producer_id!r})"
        )

    def headers(self) -> dict[str, str]:
        """The signature headers as the verifier reads them."""
        key = self.idempotency_key if self.idempotency_key is not None else _body_signal_id(self)
        if self.profile == "standard-webhooks":
            return {
                WEBHOOK_ID_HEADER: key or "",
                WEBHOOK_TIMESTAMP_HEADER: self.timestamp,
                WEBHOOK_SIGNATURE_HEADER: self.signature,
            }
        headers = {
            TIMESTAMP_HEADER: self.timestamp,
            PRODUCER_ID_HEADER: self.producer_id,
            SIGNATURE_HEADER: self.signature,
        }
        if key is not None:
            headers[IDEMPOTENCY_KEY_HEADER] = key
        return headers


@dataclass(frozen=True, slots=True)
class Verdict:
    """The verifier's answer: valid, or the rejection's stable code and its reason.

    Attributes:
        code: None when valid, else the `VerificationError.code`, e.g. `signature_mismatch`.
        reason: the rejection message (never contains a secret); empty when valid.
    """

    code: str | None = None
    reason: str = ""

    @property
    def valid(self) -> bool:
        """Whether the request passed every check."""
        return self.code is None

    def __str__(self) -> str:
        return "valid" if self.code is None else f"invalid: {self.code}: {self.reason}"


def check_capture(
    request: CapturedRequest,
    secrets: Sequence[str | bytes],
    *,
    max_age_seconds: float | None = DEFAULT_MAX_AGE_SECONDS,
    max_future_seconds: float = DEFAULT_MAX_FUTURE_SECONDS,
    clock: Callable[[], float] = time.time,
) -> Verdict:
    """Verify `request` against `secrets`; `max_age_seconds=None` skips the freshness window.

    Raises `signing.errors.SigningInputError` for unusable secrets or limits.
    """
    verifier = SignatureVerifier(
        secrets,
        max_age_seconds=max_age_seconds or DEFAULT_MAX_AGE_SECONDS,
        max_future_seconds=max_future_seconds,
        clock=clock if max_age_seconds is not None else _signing_instant(request, clock),
    )
    try:
        verifier.verify(
            method=request.method, path=request.path, headers=request.headers(), body=request.body
        )
    except VerificationError as exc:
        return Verdict(exc.code, str(exc))
    return Verdict()


def _signing_instant(
    request: CapturedRequest, fallback: Callable[[], float]
) -> Callable[[], float]:
    """A clock frozen at the request's own timestamp (a malformed one is reported anyway)."""
    try:
        if request.profile == "standard-webhooks" and request.timestamp.isdigit():
            signed_at = float(request.timestamp)
        else:
            signed_at = parse_timestamp(request.timestamp).timestamp()
    except MalformedTimestampError:
        return fallback
    return lambda: signed_at


def _body_signal_id(request: CapturedRequest) -> str | None:
    try:
        document = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        return None
    signal_id = document.get("signal_id") if isinstance(document, dict) else None
    return signal_id if isinstance(signal_id, str) else None
