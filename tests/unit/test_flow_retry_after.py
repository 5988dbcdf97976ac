"""A server's Retry-After is waited out before the next attempt, up to the policy's cap."""

from __future__ import annotations

from consumer.adapters import HttpAnswer
from consumer.service import Final, RetryPolicy
from unit.doubles import record, rig, run

CAP = 0.05


async def test_retry_after_is_waited_before_the_next_attempt() -> None:
    """With backoff off, a 429 with Retry-After still holds the next attempt back (capped)."""
    r = rig(policy=RetryPolicy.testing(retry_after_cap_seconds=CAP))
    r.server.script("EURUSD", HttpAnswer(429, {"retry-after": "1"}, ""))
    assert await run(r.flow, record(0)) is Final.DELIVERED
    first, second = r.server.posted
    assert second.at - first.at >= CAP


async def test_a_huge_retry_after_is_cut_to_the_cap() -> None:
    """An hour of Retry-After parks the key for the cap only."""
    r = rig(policy=RetryPolicy.testing(retry_after_cap_seconds=CAP))
    r.server.script("EURUSD", HttpAnswer(503, {"retry-after": "3600"}, ""))
    assert await run(r.flow, record(0)) is Final.DELIVERED
    assert len(r.server.posted) == 2


async def test_a_retry_after_that_is_not_one_is_ignored() -> None:
    """A Retry-After in no RFC form does not raise and does not hold the record."""
    r = rig()
    r.server.script("EURUSD", HttpAnswer(503, {"retry-after": "soon-ish"}, ""))
    assert await run(r.flow, record(0)) is Final.DELIVERED
    assert len(r.server.posted) == 2
