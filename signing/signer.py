"""Signing many requests for one producer: the fixed inputs are checked once, not per request.

`build_signature` and `signed_headers` check every argument on every call, which is right for a
function anyone may call with anything. A relay signs every attempt with the same secret,
producer id, method and endpoint, and with a timestamp it wrote itself: `RequestSigner` checks
those once and leaves each call with the hashing. Its output is byte for byte what
`signed_headers` gives for the same inputs (tests/test_request_signer.py).

The secret may instead be a `SecretProvider`, asked on every request: a secret rotated on disk
(`consumer.adapters._secret_watch`) signs from the next request on. A provider hands out only
secrets it has checked; the key is derived again only when the provider's bytes change.
"""

from __future__ import annotations

import hashlib
from binascii import b2a_base64
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar, cast

from signing._mac import KeyedSha256
from signing.errors import SigningInputError
from signing.headers import check_signal_id, header_set
from signing.signature import (
    DEFAULT_ENDPOINT,
    DEFAULT_METHOD,
    MIN_SECRET_BYTES,
    build_signature,
    canonical_request,
    encode_secret,
)
from signing.timestamps import format_epoch, parse_timestamp

__all__ = ["CurrentKey", "RequestSigner", "SecretProvider"]

_PROBE_TIMESTAMP = "2000-01-01T00:00:00.000Z"
_PROBE_SECRET = b"\0" * MIN_SECRET_BYTES
Key = TypeVar("Key")


class SecretProvider(Protocol):
    """Where the current signing secret comes from, asked once per signed request."""

    def current(self) -> bytes:
        """The secret to sign with now (already checked by the provider); cheap to call."""
        ...


class CurrentKey(Generic[Key]):
    """The HMAC key of a fixed secret, or of a provider's current secret, derived once per change.

    `derive` turns a secret into its key (a `KeyedSha256` of `encode_secret`'s bytes for the
    seed profile, `webhook_key` for Standard Webhooks) and raises SigningInputError for one that
    cannot sign; the first secret is derived at construction, so a bad one fails there.
    """

    __slots__ = ("_derive", "_key", "_provider", "_raw")

    def __init__(
        self, secret: str | bytes | SecretProvider, derive: Callable[[str | bytes], Key]
    ) -> None:
        self._provider: SecretProvider | None = None
        raw: str | bytes
        if isinstance(secret, str | bytes):
            raw = secret
        elif callable(getattr(secret, "current", None)):
            self._provider = secret
            raw = secret.current()
        else:
            raw = cast("str | bytes", secret)  # not a secret: `derive` raises SigningInputError
        self._derive = derive
        self._raw = raw
        self._key = derive(raw)

    def get(self) -> Key:
        """The key to sign with now."""
        provider = self._provider
        if provider is not None:
            raw = provider.current()
            if raw is not self._raw:
                self._key = self._derive(raw)
                self._raw = raw
        return self._key


class RequestSigner:
    """Signs request bodies as one producer for one method and endpoint.

    Raises SigningInputError at construction for what `build_signature` would refuse: a short
    secret, a malformed producer id, an empty method, a relative endpoint.
    """

    __slots__ = ("_key", "_prefix", "_producer_id", "_suffix")

    def __init__(
        self,
        secret: str | bytes | SecretProvider,
        *,
        producer_id: str,
        endpoint: str = DEFAULT_ENDPOINT,
        method: str = DEFAULT_METHOD,
    ) -> None:
        key = CurrentKey(secret, _keyed)
        # One probe signature runs every check build_signature makes on the fixed inputs (the
        # secret's own are encode_secret's, run by CurrentKey).
        build_signature(
            _PROBE_SECRET, b"", _PROBE_TIMESTAMP, producer_id, method=method, endpoint=endpoint
        )
        probe = canonical_request(method, endpoint, _PROBE_TIMESTAMP, producer_id, b"")
        head, _, tail = probe.partition(_PROBE_TIMESTAMP.encode())
        self._key = key
        self._prefix = head
        self._suffix = tail[: tail.rindex(b":") + 1]  # "\nPRODUCER_ID:...\nBODY_SHA256:"
        self._producer_id = producer_id

    def __repr__(self) -> str:
        return f"RequestSigner(producer_id={self._producer_id!r}, secret=<redacted>)"

    def signature(self, body: bytes, timestamp: str) -> str:
        """X-Signature of `body` at `timestamp`, as `build_signature` computes it.

        `timestamp` must be a protocol timestamp (`format_epoch` writes them); it is checked,
        since a free-form one would only come back as a 401.
        """
        try:
            parse_timestamp(timestamp)
        except ValueError as exc:
            raise SigningInputError(str(exc)) from exc
        return self._sign(body, timestamp)

    def headers(self, body: bytes, *, signal_id: str, at: float) -> dict[str, str]:
        """The signed headers of `body` as of epoch second `at`, as `signed_headers` gives them.

        Raises SigningInputError for a signal id that cannot be a header value, or an instant
        no datetime can hold.
        """
        check_signal_id(signal_id)
        timestamp = format_epoch(at)
        return header_set(signal_id, self._producer_id, timestamp, self._sign(body, timestamp))

    def _sign(self, body: bytes, timestamp: str) -> str:
        body_digest = _base64(_sha256(body).digest(), newline=False)
        message = self._prefix + timestamp.encode() + self._suffix + body_digest
        return _base64(self._key.get().digest(message), newline=False).decode()


_sha256 = hashlib.sha256
_base64 = b2a_base64


def _keyed(secret: str | bytes) -> KeyedSha256:
    return KeyedSha256(encode_secret(secret))
