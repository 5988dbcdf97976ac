"""Through the record flow, a 201 sent before a 401 cannot reopen the gate it tripped."""

from __future__ import annotations

import asyncio

from consumer.adapters import HttpAnswer
from consumer.service import Abandoned, Final
from unit.doubles import WITHIN, record, rig

UNAUTHORIZED = HttpAnswer(401, {}, "bad signature")


async def test_an_in_flight_201_from_before_the_trip_leaves_the_gate_closed() -> None:
    """Key B's 201, sent before key A's 401 and arriving after it, does not clear the gate."""
    r = rig(probe_seconds=3600)
    release_b = r.server.hold("B")
    r.server.script("A", UNAUTHORIZED)
    closing = asyncio.Event()
    b = asyncio.create_task(r.flow.run(record(0, "B"), closing, 0.0))
    await r.server.until(lambda: r.server.notes("B") != [])
    a = asyncio.create_task(r.flow.run(record(1, "A", partition=1), closing, 0.0))
    await r.server.until(lambda: r.gate_changes != [])
    release_b.set()
    assert await asyncio.wait_for(b, WITHIN) is Final.DELIVERED
    assert not r.gate.is_open
    assert r.gate_changes == [(False, "HTTP 401 from the signal server")]
    closing.set()
    done, _ = await asyncio.wait({a}, timeout=WITHIN)
    assert done == {a}
    assert isinstance(a.exception(), Abandoned)


async def test_many_in_flight_successes_do_not_flap_the_gate_or_its_alert() -> None:
    """Ten held 201s released after a 401: one close, then one open when the probe succeeds."""
    r = rig(probe_seconds=0.01)
    releases = [r.server.hold(f"K{i}") for i in range(10)]
    r.server.script("A", UNAUTHORIZED)
    closing = asyncio.Event()
    held = [
        asyncio.create_task(r.flow.run(record(i, f"K{i}", partition=i), closing, 0.0))
        for i in range(10)
    ]
    await r.server.until(lambda: len(r.server.posted) == 10)
    a = asyncio.create_task(r.flow.run(record(0, "A", partition=10), closing, 0.0))
    await r.server.until(lambda: r.gate_changes != [])
    probe = r.server.hold("A")  # A's probe waits until the in-flight answers are in
    for release in releases:
        release.set()
    finals = await asyncio.wait_for(asyncio.gather(*held), WITHIN)
    assert finals == [Final.DELIVERED] * 10
    assert [is_open for is_open, _ in r.gate_changes] == [False]
    assert not r.gate.is_open
    probe.set()
    assert await asyncio.wait_for(a, WITHIN) is Final.DELIVERED
    assert [is_open for is_open, _ in r.gate_changes] == [False, True]
    assert r.gate.is_open
