"""Transient answers are retried with the same idempotency key until a final answer."""

from __future__ import annotations

from consumer.adapters import HttpAnswer
from consumer.service import Final, RetryPolicy
from unit.doubles import CREATED, record, rig, run


async def test_transient_answers_are_retried_until_delivered() -> None:
    """503, 500, 429 and a dropped connection are retried; the 201 after them is final."""
    r = rig()
    r.server.script(
        "EURUSD",
        HttpAnswer(503, {}, ""),
        HttpAnswer(500, {}, ""),
        HttpAnswer(429, {}, ""),
        ConnectionResetError("peer went away"),
        CREATED,
    )
    assert await run(r.flow, record(0)) is Final.DELIVERED
    assert len(r.server.posted) == 5
    assert len({p.idempotency_key for p in r.server.posted}) == 1
    assert r.metrics.retries._value.get() == 4
    assert r.producer.sent == []


async def test_used_up_attempts_go_to_the_dlq_as_max_attempts() -> None:
    """With a bound on attempts, a record that keeps failing is dead-lettered, then final."""
    r = rig(policy=RetryPolicy.testing(max_attempts=3))
    r.server.default = HttpAnswer(503, {}, "busy")
    assert await run(r.flow, record(0)) is Final.DEAD_LETTERED
    assert len(r.server.posted) == 3
    [(_, headers)] = r.producer.sent
    assert headers["dlq.reason"] == b"max_attempts"
    assert (headers["dlq.attempts"], headers["dlq.http.status"]) == (b"3", b"503")


async def test_without_a_bound_a_failing_record_never_gives_up() -> None:
    """With no attempt bound, twenty transient failures still end in a delivery, not the DLQ."""
    r = rig()
    r.server.script("EURUSD", *[HttpAnswer(502, {}, "")] * 20)
    assert await run(r.flow, record(0)) is Final.DELIVERED
    assert len(r.server.posted) == 21
    assert r.producer.sent == []
