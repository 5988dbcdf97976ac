"""Settings of the reference receiver, checked once when built."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

from signing.errors import SigningInputError
from signing.receiver.errors import InvalidReceiverConfigError
from signing.receiver.faults import Faults
from signing.signature import DEFAULT_ENDPOINT, encode_secret

__all__ = [
    "CONTROL_PREFIX",
    "DEFAULT_IDEMPOTENCY_CAPACITY",
    "DEFAULT_IDEMPOTENCY_TTL_SECONDS",
    "DEFAULT_LEDGER_CAPACITY",
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_REPLAY_CACHE_CAPACITY",
    "ReceiverConfig",
]

DEFAULT_MAX_BODY_SIZE: Final = 65536
DEFAULT_LEDGER_CAPACITY: Final = 10_000
DEFAULT_IDEMPOTENCY_CAPACITY: Final = 100_000
DEFAULT_IDEMPOTENCY_TTL_SECONDS: Final = 86_400.0
DEFAULT_REPLAY_CACHE_CAPACITY: Final = 1_000_000
CONTROL_PREFIX: Final = "/_receiver/"


@dataclass(frozen=True, slots=True, repr=False)
class ReceiverConfig:
    """What the receiver accepts; its repr names how many secrets there are, never their value.

    Attributes:
        secrets: Active HMAC secrets (rotation: a request signed with any of them is valid);
            at least one, each at least 16 bytes (text counts in UTF-8).
        ingest_path: The path signals are POSTed to.
        max_body_size: Largest body accepted, in bytes; larger ones get 413 unread.
        max_age_seconds: How old an X-Timestamp may be.
        max_future_seconds: How far ahead of the receiver's clock an X-Timestamp may be.
        faults: The failures injected from the start; `ReceiverApp.faults` swaps them later.
        ledger_capacity: How many accepted signals the ledger keeps in full (body, headers,
            response): the most recent ones; older entries leave `Ledger.accepted` and
            `Ledger.get`. Counts (`accepted_count`, statuses, drops, requests) stay exact.
        idempotency_capacity: How many idempotency keys are remembered, so that a repeated key
            is answered with the original 201 and `Idempotent-Replayed: true`. Each entry holds
            only the key and that 201 body (a few hundred bytes). When full, the oldest key is
            forgotten. The same bound applies to the per-signal counts of `Ledger.deliveries`.
        idempotency_ttl_seconds: How long after its acceptance a key is remembered. A key older
            than this, or evicted by `idempotency_capacity`, is new again: a repeat of it is
            accepted (and counted) a second time. That is the store's contract.
        replay_cache_capacity: How many signatures the replay cache holds: every accepted
            signature is held until its X-Timestamp is `max_age_seconds` old, and never
            forgotten before (expired ones are purged). When it is full of live entries, a new
            validly signed request is refused with 503 and `Retry-After` (the seconds until the
            soonest entry leaves its window, at least 1) rather than any entry being evicted.
            Sustained, it admits about `replay_cache_capacity / max_age_seconds` requests per
            second; each entry costs roughly 200 bytes.
        capture_dir: When set, every ingest request is also written there in the form
            `signal-relay verify` reads (`signing.receiver.capture`).
    """

    secrets: tuple[str | bytes, ...]
    ingest_path: str = DEFAULT_ENDPOINT
    max_body_size: int = DEFAULT_MAX_BODY_SIZE
    max_age_seconds: float = 300.0
    max_future_seconds: float = 60.0
    faults: Faults = field(default_factory=Faults)
    ledger_capacity: int = DEFAULT_LEDGER_CAPACITY
    idempotency_capacity: int = DEFAULT_IDEMPOTENCY_CAPACITY
    idempotency_ttl_seconds: float = DEFAULT_IDEMPOTENCY_TTL_SECONDS
    replay_cache_capacity: int = DEFAULT_REPLAY_CACHE_CAPACITY
    capture_dir: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.secrets, str | bytes) or not self.secrets:
            raise InvalidReceiverConfigError("secrets must be a non-empty sequence of secrets")
        for position, secret in enumerate(self.secrets, start=1):
            try:
                encode_secret(secret)
            except SigningInputError as exc:
                raise InvalidReceiverConfigError(f"secret #{position}: {exc}") from exc
        object.__setattr__(self, "secrets", tuple(self.secrets))
        if not self.ingest_path.startswith("/") or self.ingest_path.startswith(CONTROL_PREFIX):
            raise InvalidReceiverConfigError(
                f"ingest_path must start with '/' and lie outside {CONTROL_PREFIX}, "
                f"got {self.ingest_path!r}"
            )
        if isinstance(self.max_body_size, bool) or self.max_body_size < 1:
            raise InvalidReceiverConfigError(
                f"max_body_size must be >= 1 byte, got {self.max_body_size!r}"
            )
        if not (math.isfinite(self.max_age_seconds) and self.max_age_seconds > 0):
            raise InvalidReceiverConfigError(
                f"max_age_seconds must be > 0, got {self.max_age_seconds!r}"
            )
        if not (math.isfinite(self.max_future_seconds) and self.max_future_seconds >= 0):
            raise InvalidReceiverConfigError(
                f"max_future_seconds must be >= 0, got {self.max_future_seconds!r}"
            )
        for name in ("ledger_capacity", "idempotency_capacity", "replay_cache_capacity"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidReceiverConfigError(f"{name} must be an integer >= 1, got {value!r}")
        ttl = self.idempotency_ttl_seconds
        if isinstance(ttl, bool) or not (math.isfinite(ttl) and ttl > 0):
            raise InvalidReceiverConfigError(f"idempotency_ttl_seconds must be > 0, got {ttl!r}")

    def __repr__(self) -> str:
        return (
            f"ReceiverConfig(secrets=<{len(self.secrets)} redacted>, "
            f"ingest_path={self.ingest_path!r}, max_body_size={self.max_body_size!r}, "
            f"max_age_seconds={self.max_age_seconds!r}, "
            f"max_future_seconds={self.max_future_seconds!r}, faults={self.faults!r}, "
            f"ledger_capacity={self.ledger_capacity!r}, "
            f"idempotency_capacity={self.idempotency_capacity!r}, "
            f"idempotency_ttl_seconds={self.idempotency_ttl_seconds!r}, "
            f"replay_cache_capacity={self.replay_cache_capacity!r}, "
            f"capture_dir={self.capture_dir!r})"
        )
