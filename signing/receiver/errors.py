"""Errors of the reference receiver: the `ReceiverError` branch of signing's error tree,
drawn in `signing/errors.py`."""

from __future__ import annotations

from signing.errors import SigningError

__all__ = [
    "DeliberateDropError",
    "InvalidFaultsError",
    "InvalidReceiverConfigError",
    "ReceiverError",
    "ReceiverStartError",
    "ReplayWindowFullError",
]


class ReceiverError(SigningError):
    """Base of every error raised by the reference receiver."""


class InvalidReceiverConfigError(ReceiverError, ValueError):
    """A receiver setting is missing or out of range."""


class InvalidFaultsError(ReceiverError, ValueError):
    """A fault-injection setting is malformed or out of range."""


class ReceiverStartError(ReceiverError, RuntimeError):
    """The receiver's server did not come up."""


class DeliberateDropError(ReceiverError):
    """Escapes the ASGI app on purpose after a response has started: the server drops the socket.

    This is the `drop_rate` fault; `serve_in_thread` and `run_receiver` keep it out of the logs.
    """


class ReplayWindowFullError(ReceiverError):
    """The replay cache holds `replay_cache_capacity` signatures, none yet out of its window.

    Raised by `ReplayWindow.remember` instead of forgetting a live signature; the receiver
    answers the request 503 with `Retry-After: retry_after_seconds`.

    Attributes:
        retry_after_seconds: Whole seconds until the soonest entry leaves its window; >= 1.
    """

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
