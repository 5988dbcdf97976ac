"""Where the consumer fetches a partition from next, read from aiokafka's state without I/O.

`AIOKafkaConsumer.position()` is a coroutine that waits (up to the request timeout) while the
position is unknown; the fetch loop needs the figure at once, between two fetches, with no
suspension in which a rebalance or a seek could move it.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition

__all__ = ["fetch_position"]


def fetch_position(consumer: AIOKafkaConsumer, tp: TopicPartition) -> int | None:
    """The next offset `consumer` fetches of `tp`; None when unassigned or not known yet."""
    subscription = getattr(consumer._subscription, "subscription", None)
    assignment = getattr(subscription, "assignment", None)
    if assignment is None:
        return None
    state = assignment.state_value(tp)
    if state is None or not state.has_valid_position:
        return None
    position: int = state.position
    return position
