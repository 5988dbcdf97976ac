"""Settings of the reference receiver, checked once when built."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

from signing.errors import SigningInputError
from signing.receiver.errors import InvalidReceiverConfigError
from signing.receiver.faults import Faults
from signing.signature import DEFAULT_ENDPOINT, encode_secret

__all__ = ["CONTROL_PREFIX", "DEFAULT_MAX_BODY_SIZE", "ReceiverConfig"]

DEFAULT_MAX_BODY_SIZE: Final = 65536
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
    """

    secrets: tuple[str | bytes, ...]
    ingest_path: str = DEFAULT_ENDPOINT
    max_body_size: int = DEFAULT_MAX_BODY_SIZE
    max_age_seconds: float = 300.0
    max_future_seconds: float = 60.0
    faults: Faults = field(default_factory=Faults)

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

    def __repr__(self) -> str:
        return (
            f"ReceiverConfig(secrets=<{len(self.secrets)} redacted>, "
            f"ingest_path={self.ingest_path!r}, max_body_size={self.max_body_size!r}, "
            f"max_age_seconds={self.max_age_seconds!r}, "
            f"max_future_seconds={self.max_future_seconds!r}, faults={self.faults!r})"
        )
