"""Server-side verification of a signed ingest request (docs/PROTOCOL.md §6).

Both signing profiles are accepted: a request carrying `webhook-signature` and no X-Signature is
checked as Standard Webhooks (`signing._webhooks`), with the same active secrets, freshness
window, idempotency binding (`webhook-id` is the key) and replay cache; any other as the seed's.
"""

import hmac
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from signing._webhooks import (
    WEBHOOK_SIGNATURE_HEADER,
    WebhookHeaders,
    webhook_key,
    webhook_signature,
)
from signing.errors import (
    DuplicateHeaderError,
    FutureTimestampError,
    IdempotencyKeyMismatchError,
    MissingHeaderError,
    ProducerIdError,
    ReplayedSignatureError,
    SignatureMismatchError,
    SigningInputError,
    StaleTimestampError,
)
from signing.headers import (
    IDEMPOTENCY_KEY_HEADER,
    PRODUCER_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
)
from signing.replay import InMemoryReplayCache, ReplayCache
from signing.signature import (
    canonical_request,
    decode_signature,
    encode_secret,
    is_valid_producer_id,
    signature_digest,
)
from signing.timestamps import parse_timestamp

DEFAULT_MAX_AGE_SECONDS = 300.0
DEFAULT_MAX_FUTURE_SECONDS = 60.0

_REQUIRED_HEADERS = (PRODUCER_ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER, IDEMPOTENCY_KEY_HEADER)
_BY_LOWER_NAME = {name.lower(): name for name in _REQUIRED_HEADERS}


@dataclass(frozen=True, slots=True)
class VerifiedRequest:
    """What a request that passed every check proves.

    Attributes:
        producer_id: X-Producer-Id, authenticated by the signature; empty for a Standard
            Webhooks request, which names no producer.
        timestamp: X-Timestamp (or `webhook-timestamp`) exactly as sent.
        signed_at: that timestamp as an aware UTC datetime.
        signal_id: the body's `signal_id`.
        idempotency_key: X-Idempotency-Key (or `webhook-id`), equal to `signal_id`.
    """

    producer_id: str
    timestamp: str
    signed_at: datetime
    signal_id: str
    idempotency_key: str


class SignatureVerifier:
    """Checks a request's signature headers against the active secrets.

    `verify` checks, in this order, and raises the first failure as its VerificationError:
    required headers present; producer id format; strict timestamp; not stale, not too far
    ahead; strict base64 signature; HMAC match against any active secret (all are compared,
    in constant time); X-Idempotency-Key equal to the body's `signal_id`; signature not seen
    before inside the window. Only a request that passed everything is recorded against replay.
    """

    __slots__ = ("_clock", "_max_age", "_max_future", "_replay_cache", "_secrets", "_webhook_keys")

    def __init__(
        self,
        secrets: Sequence[str | bytes],
        *,
        max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
        max_future_seconds: float = DEFAULT_MAX_FUTURE_SECONDS,
        clock: Callable[[], float] = time.time,
        replay_cache: ReplayCache | None = None,
    ) -> None:
        if not (math.isfinite(max_age_seconds) and max_age_seconds > 0):
            raise SigningInputError(f"max_age_seconds must be > 0; got {max_age_seconds}")
        if not (math.isfinite(max_future_seconds) and max_future_seconds >= 0):
            raise SigningInputError(f"max_future_seconds must be >= 0; got {max_future_seconds}")
        self._secrets = _encode_secrets(secrets)
        self._webhook_keys = _webhook_keys(secrets)
        self._max_age = float(max_age_seconds)
        self._max_future = float(max_future_seconds)
        self._clock = clock
        self._replay_cache: ReplayCache = (
            InMemoryReplayCache() if replay_cache is None else replay_cache
        )

    def __repr__(self) -> str:
        return (
            f"SignatureVerifier(secrets=<{len(self._secrets)} redacted>,"
            f" max_age_seconds={self._max_age:g}, max_future_seconds={self._max_future:g})"
        )

    def set_secrets(self, secrets: Sequence[str | bytes]) -> None:
        """Replace the active secrets (rotation); requests in flight use one set or the other."""
        self._secrets, self._webhook_keys = _encode_secrets(secrets), _webhook_keys(secrets)

    def verify(
        self, *, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> VerifiedRequest:
        """Verify one request; `path` is the request path exactly as sent, without the query.

        Header names are matched in any letter case. Raises a VerificationError subclass.
        """
        if _is_webhook(headers):
            return self._verify_webhook(WebhookHeaders.read(headers), body)
        found = _required_headers(headers)
        producer_id = found[PRODUCER_ID_HEADER]
        timestamp = found[TIMESTAMP_HEADER]
        idempotency_key = found[IDEMPOTENCY_KEY_HEADER]
        if not is_valid_producer_id(producer_id):
            raise ProducerIdError(f"{PRODUCER_ID_HEADER} must match ^[A-Za-z0-9._-]{{1,64}}$")
        signed_at = parse_timestamp(timestamp)
        signed_epoch = signed_at.timestamp()
        now = self._clock()
        self._check_fresh(signed_epoch, now)
        provided = decode_signature(found[SIGNATURE_HEADER])
        self._check_signature(provided, _signed_message(method, path, timestamp, producer_id, body))
        signal_id = _bound_signal_id(body, idempotency_key)
        if not self._replay_cache.remember(
            provided, expires_at=signed_epoch + self._max_age, now=now
        ):
            raise ReplayedSignatureError("this signature was already accepted inside the window")
        return VerifiedRequest(producer_id, timestamp, signed_at, signal_id, idempotency_key)

    def _verify_webhook(self, sent: WebhookHeaders, body: bytes) -> VerifiedRequest:
        """The Standard Webhooks checks, in the seed's order: fresh, signed, bound, not replayed."""
        now = self._clock()
        self._check_fresh(sent.epoch, now)
        matched: bytes | None = None
        for key in self._webhook_keys:
            expected = webhook_signature(key, sent.message_id, sent.timestamp, body)
            for provided in sent.signatures:
                if hmac.compare_digest(expected, provided):
                    matched = provided
        if matched is None:
            raise SignatureMismatchError(f"{WEBHOOK_SIGNATURE_HEADER} matches no active secret")
        signal_id = _bound_signal_id(body, sent.message_id)
        if not self._replay_cache.remember(matched, expires_at=sent.epoch + self._max_age, now=now):
            raise ReplayedSignatureError("this signature was already accepted inside the window")
        signed_at = datetime.fromtimestamp(sent.epoch, UTC)
        return VerifiedRequest("", sent.timestamp, signed_at, signal_id, sent.message_id)

    def _check_fresh(self, signed_epoch: float, now: float) -> None:
        age = now - signed_epoch
        if age > self._max_age:
            raise StaleTimestampError(
                f"{TIMESTAMP_HEADER} is {age:.3f} s old; at most {self._max_age:g} s is accepted"
            )
        if -age > self._max_future:
            raise FutureTimestampError(
                f"{TIMESTAMP_HEADER} is {-age:.3f} s ahead; at most {self._max_future:g} s"
                " is accepted"
            )

    def _check_signature(self, provided: bytes, message: bytes) -> None:
        matched = False
        # Every secret is compared, so the time taken does not tell which one (if any) matched.
        for secret in self._secrets:
            matched |= hmac.compare_digest(signature_digest(secret, message), provided)
        if not matched:
            raise SignatureMismatchError(f"{SIGNATURE_HEADER} matches no active secret")


def _signed_message(method: str, path: str, timestamp: str, producer_id: str, body: bytes) -> bytes:
    try:
        return canonical_request(method, path, timestamp, producer_id, body)
    except SigningInputError as exc:
        raise SignatureMismatchError(f"request cannot have been signed: {exc}") from exc


def _encode_secrets(secrets: Sequence[str | bytes]) -> tuple[bytes, ...]:
    if isinstance(secrets, str | bytes | bytearray):
        raise SigningInputError("secrets must be a sequence of secrets, not a single one")
    encoded = []
    for index, secret in enumerate(secrets):
        try:
            encoded.append(encode_secret(secret))
        except SigningInputError as exc:
            raise SigningInputError(f"secret #{index}: {exc}") from exc
    if not encoded:
        raise SigningInputError("at least one secret is required")
    return tuple(encoded)


def _webhook_keys(secrets: Sequence[str | bytes]) -> tuple[bytes, ...]:
    """The Standard Webhooks keys of the secrets that give one (`webhook_key`)."""
    keys = []
    for secret in secrets:
        try:
            keys.append(webhook_key(secret))
        except SigningInputError:
            continue  # such a secret cannot have signed a Standard Webhooks request either
    return tuple(keys)


def _is_webhook(headers: Mapping[str, str]) -> bool:
    """A request signed by the Standard Webhooks profile: `webhook-signature`, no X-Signature."""
    names = {key.lower() for key in headers if isinstance(key, str) and key.isascii()}
    return WEBHOOK_SIGNATURE_HEADER in names and SIGNATURE_HEADER.lower() not in names


def _required_headers(headers: Mapping[str, str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in headers.items():
        # Only ASCII names: str.lower() maps e.g. the Kelvin sign to "k".
        name = _BY_LOWER_NAME.get(key.lower()) if isinstance(key, str) and key.isascii() else None
        if name is None:
            continue
        if not isinstance(value, str):
            raise MissingHeaderError(f"{name} is not text")
        if found.setdefault(name, value) != value:
            raise DuplicateHeaderError(f"{name} is given more than once with different values")
    missing = [name for name in _REQUIRED_HEADERS if name not in found]
    if missing:
        raise MissingHeaderError(f"missing header(s): {', '.join(missing)}")
    return found


def _bound_signal_id(body: bytes, idempotency_key: str) -> str:
    """The body's signal_id, which must be the idempotency key; no other field is looked at."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise IdempotencyKeyMismatchError("body is not JSON, so it has no signal_id") from exc
    signal_id = document.get("signal_id") if isinstance(document, dict) else None
    if not isinstance(signal_id, str):
        raise IdempotencyKeyMismatchError("body is not a JSON object with a string signal_id")
    if signal_id != idempotency_key:
        raise IdempotencyKeyMismatchError(
            f"{IDEMPOTENCY_KEY_HEADER} differs from the body's signal_id"
        )
    return signal_id
