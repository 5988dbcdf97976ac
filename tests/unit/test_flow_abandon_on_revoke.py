"""A record waiting on a backoff or a systemic pause is abandoned at once when its lane closes."""

from __future__ import annotations

import asyncio

import pytest

from consumer.adapters import HttpAnswer
from consumer.config import RetrySettings
from consumer.service import Abandoned, RetryPolicy
from unit.doubles import WITHIN, Crashes, lane, record, rig

LONG = RetryPolicy(RetrySettings(retry_after_cap_seconds=3600))


async def test_closing_abandons_a_record_in_backoff() -> None:
    """A record told to wait an hour raises `Abandoned` as soon as `closing` is set."""
    r = rig(policy=LONG)
    r.server.script("EURUSD", HttpAnswer(503, {"retry-after": "3600"}, ""))
    closing = asyncio.Event()
    task = asyncio.create_task(r.flow.run(record(0), closing, 0.0))
    await r.server.until(lambda: len(r.server.posted) == 1)
    closing.set()
    with pytest.raises(Abandoned):
        await asyncio.wait_for(task, WITHIN)
    assert r.producer.sent == []


async def test_closing_abandons_a_record_waiting_at_the_systemic_gate() -> None:
    """A record parked behind a closed gate is abandoned, not dead-lettered."""
    r = rig(probe_seconds=3600)
    r.server.default = HttpAnswer(403, {}, "")
    closing = asyncio.Event()
    task = asyncio.create_task(r.flow.run(record(0), closing, 0.0))
    await r.server.until(lambda: len(r.server.posted) == 1)
    closing.set()
    with pytest.raises(Abandoned):
        await asyncio.wait_for(task, WITHIN)
    assert r.producer.sent == []


async def test_an_abandoned_record_leaves_its_offset_uncommittable() -> None:
    """On revoke, a record in backoff is dropped unfinished: nothing to commit, no crash."""
    r, crashes = rig(policy=LONG), Crashes()
    r.server.script("EURUSD", HttpAnswer(503, {"retry-after": "3600"}, ""))
    partition = lane(r.flow, crashes=crashes)
    partition.submit(record(0))
    await r.server.until(lambda: len(r.server.posted) == 1)
    await asyncio.wait_for(partition.close(WITHIN), WITHIN)
    assert partition.tracker.committable is None
    assert partition.buffered == 1
    assert crashes.errors == []
