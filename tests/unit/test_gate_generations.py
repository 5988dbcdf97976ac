"""The systemic gate judges an answer by when its request was sent, so it does not flap."""

from __future__ import annotations

from consumer.service import SystemicGate


def test_a_success_sent_before_the_trip_leaves_the_gate_closed() -> None:
    """A 201 of a request sent before the trip (an older ticket) does not reopen the gate."""
    changes: list[tuple[bool, str]] = []
    gate = SystemicGate(3600, on_change=lambda *change: changes.append(change))
    before = gate.ticket()
    gate.trip("HTTP 401", gate.ticket())
    gate.clear(before)
    assert not gate.is_open
    assert changes == [(False, "HTTP 401")]


def test_a_success_sent_after_the_trip_reopens_the_gate() -> None:
    """A probe (ticket taken after the trip) that succeeds reopens the gate."""
    gate = SystemicGate(3600)
    gate.trip("HTTP 401", gate.ticket())
    probe = gate.ticket()
    gate.clear(probe)
    assert gate.is_open


def test_a_systemic_answer_sent_before_the_clear_does_not_trip_again() -> None:
    """A 401 of a request sent before the gate reopened is stale: the gate stays open."""
    changes: list[tuple[bool, str]] = []
    gate = SystemicGate(3600, on_change=lambda *change: changes.append(change))
    gate.trip("HTTP 401", gate.ticket())
    in_flight = gate.ticket()
    gate.clear(gate.ticket())
    gate.trip("HTTP 401", in_flight)
    assert gate.is_open
    assert [is_open for is_open, _ in changes] == [False, True]


def test_every_trip_starts_a_new_generation() -> None:
    """After trip, clear, trip, only a request sent after the second trip clears it."""
    gate = SystemicGate(3600)
    gate.trip("HTTP 401", gate.ticket())
    first_probe = gate.ticket()
    gate.clear(first_probe)
    gate.trip("HTTP 403", gate.ticket())
    gate.clear(first_probe)
    assert not gate.is_open
    gate.clear(gate.ticket())
    assert gate.is_open


def test_without_a_ticket_an_answer_counts_as_sent_now() -> None:
    """`trip()` and `clear()` without a ticket act at once (a caller that has none)."""
    gate = SystemicGate(3600)
    gate.trip("HTTP 404")
    assert not gate.is_open
    gate.clear()
    assert gate.is_open
