"""Whether the broker answers: readiness's one round trip to Kafka, and what its failure means.

`probe_broker` asks the cluster for its metadata through the consumer's own client
(`AIOKafkaConsumer.topics()`: a Metadata request to a known broker, connecting to it again
first if the old connection broke), so a probe after an outage has ended succeeds at once.

Only an outage makes the broker unreachable: a Kafka error, a socket error or the probe's
deadline. Any other exception is a bug in the check and propagates: caught as "unreachable",
a check that can never succeed (a call to a method the client does not have) would keep
readiness false after every outage had ended, and look like one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from aiokafka.errors import KafkaError

__all__ = ["BROKER_OUTAGE_ERRORS", "BrokerReach", "TopicLister", "probe_broker"]

BROKER_OUTAGE_ERRORS: tuple[type[Exception], ...] = (KafkaError, OSError, TimeoutError)


class TopicLister(Protocol):
    """The one call the probe makes on a Kafka client (`AIOKafkaConsumer` has it)."""

    async def topics(self) -> set[str]:
        """The cluster's topics, from a fresh Metadata request."""
        ...


@dataclass(frozen=True, slots=True)
class BrokerReach:
    """One probe's outcome.

    Attributes:
        reachable: the broker answered a Metadata request within the deadline.
        error: why not (`ErrorType: message`); empty when reachable.
    """

    reachable: bool
    error: str = ""


async def probe_broker(client: TopicLister, *, within: float) -> BrokerReach:
    """Ask for the cluster's metadata within `within` seconds; an outage is an answer."""
    try:
        await asyncio.wait_for(client.topics(), within)
    except BROKER_OUTAGE_ERRORS as exc:
        return BrokerReach(reachable=False, error=_describe(exc))
    return BrokerReach(reachable=True)


def _describe(exc: BaseException) -> str:
    name, text = type(exc).__name__, str(exc)
    if not text:
        return name
    # aiokafka's errors already start with their class name.
    return (text if text.startswith(name) else f"{name}: {text}")[:300]
