"""A systemic answer pauses every delivery, dead-letters nothing, and a probe resumes them all."""

from __future__ import annotations

import asyncio

from consumer.adapters import HttpAnswer
from consumer.service import Final
from unit.doubles import WITHIN, record, rig

UNAUTHORIZED = HttpAnswer(401, {}, "bad signature")


async def test_systemic_failure_pauses_all_keys_until_a_probe_is_accepted() -> None:
    """401 closes the gate; waiting keys probe one at a time; the first 201 reopens it for all."""
    r = rig()
    r.server.default = UNAUTHORIZED
    closing = asyncio.Event()
    tasks = [asyncio.create_task(r.flow.run(record(i, f"K{i}"), closing, 0.0)) for i in range(3)]
    await r.server.until(lambda: len(r.server.posted) >= 6)
    assert not r.gate.is_open
    assert not any(task.done() for task in tasks)
    assert r.producer.sent == []

    r.server.default = HttpAnswer(201, {}, "")
    finals = await asyncio.wait_for(asyncio.gather(*tasks), WITHIN)
    assert finals == [Final.DELIVERED] * 3
    assert r.gate.is_open
    assert [is_open for is_open, _ in r.gate_changes] == [False, True]
    assert r.producer.sent == []


async def test_a_terminal_answer_also_proves_the_server_is_back() -> None:
    """A 422 on a probe reopens the gate: the server accepts our requests again."""
    r = rig()
    r.server.script("EURUSD", UNAUTHORIZED, HttpAnswer(422, {}, "bad field"))
    final = await asyncio.wait_for(r.flow.run(record(0), asyncio.Event(), 0.0), WITHIN)
    assert final is Final.DEAD_LETTERED
    assert r.gate.is_open
    assert r.producer.reasons() == [b"http_4xx"]
