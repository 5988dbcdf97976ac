"""Which headers authenticate a request: the signing profile (`OUTBOUND_SIGNING_PROFILE`).

`seed` (the default) is the protocol's own: X-Producer-Id, X-Timestamp, X-Signature and
X-Idempotency-Key over the canonical request (docs/PROTOCOL.md §4). `standard-webhooks` is the
Standard Webhooks specification's `webhook-id` / `webhook-timestamp` / `webhook-signature`
(`signing._webhooks`), with the signal_id as the message id. Both sign the same canonical body.
"""

from __future__ import annotations

from typing import Final, Literal, Protocol, get_args

from signing._webhooks import webhook_headers, webhook_key
from signing.errors import SigningInputError
from signing.signature import DEFAULT_ENDPOINT
from signing.signer import CurrentKey, RequestSigner, SecretProvider

__all__ = ["SIGNING_PROFILES", "Signer", "SigningProfile", "WebhookSigner", "build_signer"]

SigningProfile = Literal["seed", "standard-webhooks"]
SIGNING_PROFILES: Final[tuple[str, ...]] = get_args(SigningProfile)


class Signer(Protocol):
    """Signs one request body: the headers to send with it."""

    def headers(self, body: bytes, *, signal_id: str, at: float) -> dict[str, str]:
        """The authenticating headers of `body` as of epoch second `at`."""
        ...


class WebhookSigner:
    """Signs request bodies with the Standard Webhooks headers; the secret as `webhook_key` maps it.

    Raises SigningInputError at construction for a secret that gives no key.
    """

    __slots__ = ("_key",)

    def __init__(self, secret: str | bytes | SecretProvider) -> None:
        self._key = CurrentKey(secret, webhook_key)

    def __repr__(self) -> str:
        return "WebhookSigner(secret=<redacted>)"

    def headers(self, body: bytes, *, signal_id: str, at: float) -> dict[str, str]:
        """`webhook-id`, `webhook-timestamp` (whole seconds of `at`), `webhook-signature`."""
        return webhook_headers(self._key.get(), body, signal_id=signal_id, at=at)


def build_signer(
    profile: str,
    secret: str | bytes | SecretProvider,
    *,
    producer_id: str,
    endpoint: str = DEFAULT_ENDPOINT,
) -> Signer:
    """The signer of `profile`; SigningInputError for an unknown profile or unusable inputs."""
    if profile == "seed":
        return RequestSigner(secret, producer_id=producer_id, endpoint=endpoint)
    if profile == "standard-webhooks":
        return WebhookSigner(secret)
    raise SigningInputError(f"signing profile must be one of {', '.join(SIGNING_PROFILES)}")
