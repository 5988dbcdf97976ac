"""The systemic gate: closed by a trip, one probe per interval, reopened for all by a clear."""

from __future__ import annotations

import asyncio

from consumer.service import SystemicGate

WITHIN = 5.0


async def test_an_open_gate_lets_everyone_through_at_once() -> None:
    """With no systemic failure, `passage()` returns immediately."""
    gate = SystemicGate(3600)
    await asyncio.wait_for(gate.passage(), WITHIN)
    assert gate.is_open


async def test_a_closed_gate_lets_one_probe_through_per_interval() -> None:
    """Of three waiting callers, one passes per probe interval, one at a time."""
    gate = SystemicGate(0.02)
    gate.trip("HTTP 401")
    passed: list[int] = []

    async def caller(n: int) -> None:
        await gate.passage()
        passed.append(n)

    tasks = [asyncio.create_task(caller(n)) for n in range(3)]
    await asyncio.wait_for(asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED), WITHIN)
    assert len(passed) == 1
    await asyncio.wait_for(asyncio.gather(*tasks), WITHIN)
    assert sorted(passed) == [0, 1, 2]
    assert not gate.is_open


async def test_clear_releases_every_waiter_and_reports_both_changes() -> None:
    """A probe's success reopens the gate for all waiters; the change is reported once each way."""
    changes: list[tuple[bool, str]] = []
    gate = SystemicGate(3600, on_change=lambda *change: changes.append(change))
    gate.trip("HTTP 403")
    gate.trip("HTTP 401")
    waiters = [asyncio.create_task(gate.passage()) for _ in range(3)]
    held, _ = await asyncio.wait(waiters, timeout=0.02)
    assert held == set()
    gate.clear()
    await asyncio.wait_for(asyncio.gather(*waiters), WITHIN)
    assert changes == [(False, "HTTP 403"), (True, "HTTP 403")]
    assert (gate.is_open, gate.reason) == (True, "")
