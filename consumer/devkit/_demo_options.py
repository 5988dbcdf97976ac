"""What the demo is asked to do: its size and pace, the receiver's faults, its one error."""

from __future__ import annotations

from dataclasses import dataclass

from consumer.devkit._demo_stream import REJECTED_INSTRUMENT
from consumer.errors import SignalRelayError
from signing.receiver.faults import Faults

__all__ = ["DemoError", "DemoOptions", "demo_faults"]


class DemoError(SignalRelayError):
    """The demo could not run to its verdict (the relay stopped, the broker failed, ...)."""


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """How big and how fast the demo is.

    Attributes:
        signals: distinct valid signals to publish (duplicates and bad records come on top).
        rate: records published per second; 0 publishes as fast as the broker takes them.
        timeout: seconds allowed, after the last publish, for every record to reach its outcome.
        keep_running: after the summary, keep the relay serving `/metrics` until Ctrl-C.
        verbose: the relay's JSON logs at INFO instead of warnings only.
        seed: seed of the stream and of the receiver's fault dice (None: random).
    """

    signals: int = 500
    rate: float = 200.0
    timeout: float = 60.0
    keep_running: bool = False
    verbose: bool = False
    seed: int | None = None


def demo_faults(seed: int | None) -> Faults:
    """The receiver's misbehaviour: 5 ms latency, 3% 503, 2% 429 (Retry-After 1), 1% drops."""
    return Faults(
        latency_ms=5.0,
        error_rate=0.03,
        throttle_rate=0.02,
        retry_after_seconds=1,
        drop_rate=0.01,
        status_by_instrument={REJECTED_INSTRUMENT: 422},
        seed=seed,
    )
