"""The reference ingest receiver: an ASGI app that verifies, records and answers signed signals.

`create_app(ReceiverConfig(...))` builds it; `serve_in_thread` runs it under uvicorn for tests,
the demo and the benchmark; `run_receiver` serves it in the foreground for the CLI. Faults
(latency, 503s, 429s, dropped connections, fixed statuses per instrument) are switched at
runtime through `ReceiverApp.faults` or `PUT /_receiver/faults`.

Its memory is bounded (`ReceiverConfig`): the ledger keeps the last `ledger_capacity` accepted
signals in full; the idempotency store remembers a key for `idempotency_ttl_seconds`, at most
`idempotency_capacity` keys; the replay cache (`ReplayWindow`) holds at most
`replay_cache_capacity` signatures and, when full of live ones, answers 503 with `Retry-After`
instead of forgetting any.
"""

from signing.receiver.app import ReceiverApp, create_app
from signing.receiver.capture import DEFAULT_MAX_CAPTURED, RequestCapture
from signing.receiver.config import (
    CONTROL_PREFIX,
    DEFAULT_IDEMPOTENCY_CAPACITY,
    DEFAULT_IDEMPOTENCY_TTL_SECONDS,
    DEFAULT_LEDGER_CAPACITY,
    DEFAULT_MAX_BODY_SIZE,
    DEFAULT_REPLAY_CACHE_CAPACITY,
    ReceiverConfig,
)
from signing.receiver.errors import (
    DeliberateDropError,
    InvalidFaultsError,
    InvalidReceiverConfigError,
    ReceiverError,
    ReceiverStartError,
    ReplayWindowFullError,
)
from signing.receiver.faults import Faults
from signing.receiver.ledger import AcceptedSignal, Ledger
from signing.receiver.replay_window import ReplayWindow
from signing.receiver.serve import run_receiver, serve_in_thread

__all__ = [
    "CONTROL_PREFIX",
    "DEFAULT_IDEMPOTENCY_CAPACITY",
    "DEFAULT_IDEMPOTENCY_TTL_SECONDS",
    "DEFAULT_LEDGER_CAPACITY",
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_MAX_CAPTURED",
    "DEFAULT_REPLAY_CACHE_CAPACITY",
    "AcceptedSignal",
    "DeliberateDropError",
    "Faults",
    "InvalidFaultsError",
    "InvalidReceiverConfigError",
    "Ledger",
    "ReceiverApp",
    "ReceiverConfig",
    "ReceiverError",
    "ReceiverStartError",
    "ReplayWindow",
    "ReplayWindowFullError",
    "RequestCapture",
    "create_app",
    "run_receiver",
    "serve_in_thread",
]
