"""Why no local broker could be provided: the `LocalBrokerError` branch of the error tree
drawn in `consumer/errors.py`."""

from consumer.errors import SignalRelayError

__all__ = [
    "BrokerChoiceError",
    "BrokerStartError",
    "ContainerUnavailableError",
    "LocalBrokerError",
]


class LocalBrokerError(SignalRelayError, RuntimeError):
    """Base error: no broker could be provided."""


class BrokerChoiceError(LocalBrokerError):
    """`SIGNAL_RELAY_BROKER` names a kind that cannot be forced."""


class BrokerStartError(LocalBrokerError):
    """The chosen broker did not start or did not become ready in time."""


class ContainerUnavailableError(BrokerStartError):
    """The Kafka container could not run; `reason` says why in a few words, on one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Kafka container unavailable ({reason})")
        self.reason = reason
