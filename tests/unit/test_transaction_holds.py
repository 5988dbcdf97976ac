"""A partition read to its LSO below the high-watermark for long is held: counted, logged once."""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition
from log_capture import json_lines, rendered_logs

from consumer.service._progress import TransactionHolds

TP = TopicPartition("signals", 3)


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _events(text: str) -> list[dict[str, Any]]:
    return [line for line in json_lines(text) if "transaction" in line.get("event", "")]


def test_held_after_the_threshold_and_logged_once_per_episode() -> None:
    """At the LSO (40) below the high-watermark (55) for 10 s: held, one event, then released."""
    clock = _Clock()
    holds = TransactionHolds(after=10.0, clock=clock)
    with rendered_logs() as logs:
        holds.observe(TP, 40, 40, 55)
        clock.now += 9.9
        holds.observe(TP, 40, 40, 55)
        assert holds.held == 0
        clock.now += 0.2
        for _ in range(3):
            holds.observe(TP, 40, 40, 55)
            clock.now += 1
        assert holds.held == 1
        holds.observe(TP, 56, 56, 56)  # the transaction committed; the group read past it
        assert holds.held == 0
    events = _events(logs.getvalue())
    assert [e["event"] for e in events] == [
        "partition_held_by_transaction",
        "partition_released_by_transaction",
    ]
    held = events[0]
    assert (held["partition"], held["last_stable_offset"], held["high_watermark"]) == (3, 40, 55)
    assert held["level"] == "warning"


def test_a_group_behind_its_lso_is_lag_not_a_hold() -> None:
    """Records below the LSO still to read: the relay is behind, no transaction holds it."""
    clock = _Clock()
    holds = TransactionHolds(after=1.0, clock=clock)
    for _ in range(5):
        holds.observe(TP, 39, 40, 55)
        clock.now += 1
    assert holds.held == 0


def test_no_open_transaction_is_no_hold() -> None:
    """LSO equal to the high-watermark, or unknown (no fetch yet, a broker without it): never."""
    clock = _Clock()
    holds = TransactionHolds(after=1.0, clock=clock)
    for stable, high in ((55, 55), (None, 55), (-1, 55), (40, None)):
        for _ in range(3):
            holds.observe(TP, 55, stable, high)
            clock.now += 1
        assert holds.held == 0


def test_a_wait_interrupted_starts_again() -> None:
    """Falling behind the LSO in between resets the clock: two short waits are no hold."""
    clock = _Clock()
    holds = TransactionHolds(after=10.0, clock=clock)
    holds.observe(TP, 40, 40, 55)
    clock.now += 6
    holds.observe(TP, 40, 42, 55)  # new records became stable: behind again
    clock.now += 1
    holds.observe(TP, 42, 42, 55)
    clock.now += 6
    holds.observe(TP, 42, 42, 55)
    assert holds.held == 0


def test_a_revoked_partition_is_forgotten_without_a_release_event() -> None:
    """On revoke the hold ends silently; the count drops."""
    clock = _Clock()
    holds = TransactionHolds(after=0.0, clock=clock)
    with rendered_logs() as logs:
        holds.observe(TP, 40, 40, 55)
        assert holds.held == 1
        holds.forget(TP)
        assert holds.held == 0
    assert [e["event"] for e in _events(logs.getvalue())] == ["partition_held_by_transaction"]
