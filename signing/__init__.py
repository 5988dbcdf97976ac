"""The signing protocol: canonical bytes, HMAC-SHA256 sign and verify, the server-side verifier.

The seed's client library lives here too: `HmacClient` posts one signal from your own code
(no Kafka), configured by `OutboundConfig.from_env()`, signed and judged as the relay does.

The reference receiver lives in the `signing.receiver` subpackage (it needs the `receiver`
extra, uvicorn); importing `signing` alone does not pull it in.
"""

from signing._client import HmacClient
from signing._client_errors import (
    OutboundClientError,
    OutboundConfigError,
    OutboundDisabledError,
    OutboundDuplicateError,
    OutboundError,
    OutboundIdempotencyKeyError,
    OutboundResponseError,
    OutboundRetriableError,
    OutboundSignalError,
    OutboundSignatureError,
    OutboundSystemicError,
    OutboundTransportError,
)
from signing._outbound_config import OutboundConfig
from signing._profile import SIGNING_PROFILES, Signer, SigningProfile, WebhookSigner, build_signer
from signing._tls import ClientCertificate, ClientCertificateError, client_ssl_context
from signing._webhooks import webhook_key
from signing.canonical import (
    SIGNAL_ID_NAMESPACE,
    CanonicalSignal,
    canonical_body,
    derive_signal_id,
)
from signing.errors import (
    DuplicateHeaderError,
    FutureTimestampError,
    IdempotencyKeyMismatchError,
    MalformedSignatureError,
    MalformedTimestampError,
    MissingHeaderError,
    ProducerIdError,
    ReplayedSignatureError,
    SignatureMismatchError,
    SigningError,
    SigningInputError,
    StaleTimestampError,
    VerificationError,
)
from signing.headers import signed_headers
from signing.replay import InMemoryReplayCache, ReplayCache
from signing.signature import build_signature, canonical_request, verify_signature
from signing.signer import RequestSigner, SecretProvider
from signing.timestamps import format_epoch, format_timestamp, now_timestamp, parse_timestamp
from signing.verifier import SignatureVerifier, VerifiedRequest

__all__ = [
    "SIGNAL_ID_NAMESPACE",
    "SIGNING_PROFILES",
    "CanonicalSignal",
    "ClientCertificate",
    "ClientCertificateError",
    "DuplicateHeaderError",
    "FutureTimestampError",
    "HmacClient",
    "IdempotencyKeyMismatchError",
    "InMemoryReplayCache",
    "MalformedSignatureError",
    "MalformedTimestampError",
    "MissingHeaderError",
    "OutboundClientError",
    "OutboundConfig",
    "OutboundConfigError",
    "OutboundDisabledError",
    "OutboundDuplicateError",
    "OutboundError",
    "OutboundIdempotencyKeyError",
    "OutboundResponseError",
    "OutboundRetriableError",
    "OutboundSignalError",
    "OutboundSignatureError",
    "OutboundSystemicError",
    "OutboundTransportError",
    "ProducerIdError",
    "ReplayCache",
    "ReplayedSignatureError",
    "RequestSigner",
    "SecretProvider",
    "SignatureMismatchError",
    "SignatureVerifier",
    "Signer",
    "SigningError",
    "SigningInputError",
    "SigningProfile",
    "StaleTimestampError",
    "VerificationError",
    "VerifiedRequest",
    "WebhookSigner",
    "build_signature",
    "build_signer",
    "canonical_body",
    "canonical_request",
    "client_ssl_context",
    "derive_signal_id",
    "format_epoch",
    "format_timestamp",
    "now_timestamp",
    "parse_timestamp",
    "signed_headers",
    "verify_signature",
    "webhook_key",
]
