"""Errors of the seed's client library (`HmacClient`, `OutboundConfig`), kept by the seed's names.

They are the `OutboundError` branch of signing's error tree, drawn with what each class
means in `signing/errors.py`.

Each class of an HTTP answer carries `outcome`, the name of the relay's decision for it
(`consumer.service.Outcome` values: delivered, duplicate, retry, systemic, terminal), so a
caller wrapping `HmacClient` in retries decides as the relay does: retry only when
`retriable` is true. No message carries the secret.
"""

from __future__ import annotations

from typing import ClassVar

from signing.errors import SigningError

__all__ = [
    "OutboundClientError",
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
]


class OutboundError(SigningError):
    """Base of every error the client library raises."""


class OutboundConfigError(OutboundError, ValueError):
    """A setting is missing or invalid; `setting` names it (field and environment variable)."""

    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        self.problem = problem
        super().__init__(f"{setting}: {problem}")


class OutboundSignatureError(OutboundError, ValueError):
    """The request cannot be signed: a short secret, a malformed producer id, a bad instant."""


class OutboundSignalError(OutboundError, ValueError):
    """The signal is invalid (docs/PROTOCOL.md §2) or its canonical body is too large; not sent."""


class OutboundIdempotencyKeyError(OutboundSignalError):
    """The caller's idempotency key differs from the canonical body's signal_id; not sent.

    The contract binds them: the key is the body's `signal_id`. To choose the key, put it in
    the signal's `signal_id`.
    """


class OutboundDisabledError(OutboundError):
    """The config says `enabled=False` (HMAC_PRODUCER_ENABLED=false): signed, not sent."""


class OutboundClientError(OutboundError):
    """The server did not answer 201 with a SignalIngestResponse, or did not answer at all.

    Raised as this class itself for a terminal answer: a 4xx other than those below, or a 2xx
    that is not a 201. Sending the same signal again would get the same answer.

    Attributes:
        http_code: the HTTP status, or None when no answer arrived.
        details: the answer's body (at most 1 KiB of it, decoded leniently) or, without an
            answer, what went wrong.
        signal_id: the signal the request carried.
        retriable: whether the same request may succeed later (on the class).
        outcome: the relay's decision for such an answer (on the class).
    """

    retriable: ClassVar[bool] = False
    outcome: ClassVar[str] = "terminal"

    def __init__(
        self, message: str, *, http_code: int | None, details: str = "", signal_id: str = ""
    ) -> None:
        super().__init__(message)
        self.http_code = http_code
        self.details = details
        self.signal_id = signal_id


class OutboundRetriableError(OutboundClientError):
    """408, 425, 429, 5xx (or an interim 1xx only): a later attempt may succeed.

    Attributes:
        retry_after: seconds the server asked to wait (`Retry-After`), when it said so.
    """

    retriable = True
    outcome = "retry"

    def __init__(
        self,
        message: str,
        *,
        http_code: int | None,
        details: str = "",
        signal_id: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, http_code=http_code, details=details, signal_id=signal_id)
        self.retry_after = retry_after


class OutboundTransportError(OutboundRetriableError):
    """No answer arrived: the connection failed or broke off, or the timeout passed."""


class OutboundSystemicError(OutboundClientError):
    """401, 403, 404, 405 or a 3xx: the secret, the URL or a permission is wrong, not the signal.

    Redirects are never followed: a signed POST goes to the configured URL or nowhere.
    """

    outcome = "systemic"


class OutboundDuplicateError(OutboundClientError):
    """409: the server already has this signal; it is delivered, and nothing is to be retried."""

    outcome = "duplicate"


class OutboundResponseError(OutboundClientError):
    """201, but its body is not a SignalIngestResponse (or too large to read): still delivered."""

    outcome = "delivered"
