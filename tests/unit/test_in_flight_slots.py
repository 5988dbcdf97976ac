"""InFlightSlots: at most `limit` holders, waiters served in order, no slot lost to a cancel."""

from __future__ import annotations

import asyncio

import pytest

from consumer.adapters._in_flight import InFlightSlots

WITHIN = 5.0


async def _hold(slots: InFlightSlots, name: str, entered: list[str], leave: asyncio.Event) -> None:
    async with slots:
        entered.append(name)
        await leave.wait()


async def _settle() -> None:
    """Let every ready task run (the loop's queue is drained a few times over)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_at_most_limit_hold_and_waiters_enter_in_arrival_order() -> None:
    """Two slots, five holders: two enter, the rest one by one in order as slots free up."""
    slots = InFlightSlots(2)
    entered: list[str] = []
    leaves = {name: asyncio.Event() for name in "abcde"}
    tasks = [asyncio.create_task(_hold(slots, name, entered, leaves[name])) for name in "abcde"]
    await _settle()
    assert entered == ["a", "b"]
    assert slots.free == 0
    for name, expected in (("b", "abc"), ("a", "abcd"), ("c", "abcde")):
        leaves[name].set()
        await _settle()
        assert entered == list(expected)
    for event in leaves.values():
        event.set()
    await asyncio.wait_for(asyncio.gather(*tasks), WITHIN)
    assert slots.free == 2


async def test_a_waiter_cancelled_while_waiting_takes_no_slot() -> None:
    """The next waiter gets the slot a cancelled waiter would have had."""
    slots = InFlightSlots(1)
    entered: list[str] = []
    leave = asyncio.Event()
    holder = asyncio.create_task(_hold(slots, "holder", entered, leave))
    cancelled = asyncio.create_task(_hold(slots, "cancelled", entered, leave))
    after = asyncio.create_task(_hold(slots, "after", entered, leave))
    await _settle()
    cancelled.cancel()
    await _settle()
    leave.set()
    await asyncio.wait_for(asyncio.gather(holder, after), WITHIN)
    assert entered == ["holder", "after"]
    assert cancelled.cancelled()
    assert slots.free == 1


async def test_a_waiter_handed_a_slot_and_cancelled_before_entering_passes_it_on() -> None:
    """Cancelled in the same tick the slot is handed over, the waiter gives it to the next one."""
    slots = InFlightSlots(1)
    entered: list[str] = []
    leave, keep = asyncio.Event(), asyncio.Event()
    waiters: list[asyncio.Task[None]] = []

    async def hold_then_cancel_the_next() -> None:
        async with slots:
            entered.append("holder")
            await leave.wait()
        waiters[0].cancel()  # the exit just handed it the slot; it has not run since

    holder = asyncio.create_task(hold_then_cancel_the_next())
    await _settle()
    waiters.append(asyncio.create_task(_hold(slots, "handed", entered, keep)))
    after = asyncio.create_task(_hold(slots, "after", entered, keep))
    await _settle()
    leave.set()
    await asyncio.wait_for(holder, WITHIN)
    await _settle()
    assert entered == ["holder", "after"]
    keep.set()
    await asyncio.wait_for(after, WITHIN)
    with pytest.raises(asyncio.CancelledError):
        await waiters[0]
    assert slots.free == 1


def test_a_limit_below_one_is_refused() -> None:
    """No slots at all would wait forever: refused at construction."""
    with pytest.raises(ValueError, match="at least 1"):
        InFlightSlots(0)
