"""The reference ingest receiver: an ASGI app that verifies, records and answers signed signals.

`create_app(ReceiverConfig(...))` builds it; `serve_in_thread` runs it under uvicorn for tests,
the demo and the benchmark; `run_receiver` serves it in the foreground for the CLI. Faults
(latency, 503s, 429s, dropped connections, fixed statuses per instrument) are switched at
runtime through `ReceiverApp.faults` or `PUT /_receiver/faults`.
"""

from signing.receiver.app import ReceiverApp, create_app
from signing.receiver.config import CONTROL_PREFIX, DEFAULT_MAX_BODY_SIZE, ReceiverConfig
from signing.receiver.errors import (
    DeliberateDropError,
    InvalidFaultsError,
    InvalidReceiverConfigError,
    ReceiverError,
    ReceiverStartError,
)
from signing.receiver.faults import Faults
from signing.receiver.ledger import AcceptedSignal, Ledger
from signing.receiver.serve import run_receiver, serve_in_thread

__all__ = [
    "CONTROL_PREFIX",
    "DEFAULT_MAX_BODY_SIZE",
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
    "create_app",
    "run_receiver",
    "serve_in_thread",
]
