"""A 201 whose status is `rejected` is the final outcome `rejected`, dead-lettered only if asked."""

from __future__ import annotations

import orjson
import pytest
from relay_harness import relay_settings

from consumer.adapters import DeadLetterWriter, HttpAnswer, HttpSender
from consumer.service import Final, RecordFlow, RetryPolicy
from unit.doubles import DLQ, NOW, TOPIC, Rig, record, rig, run

REJECTION = orjson.dumps(
    {
        "signal_id": "0b8f7a52-3c1e-4c4b-9d0e-6f1a2b3c4d5e",
        "status": "rejected",
        "server_timestamp": "2027-01-15T08:00:00Z",
        "message": "stop loss too tight",
        "errors": ["stop_loss"],
    }
)
REJECTED = HttpAnswer(201, {}, "", REJECTION)


def dead_lettering(r: Rig) -> RecordFlow:
    """The rig's flow with `RELAY_DEAD_LETTER_REJECTED=true`."""
    settings = relay_settings("127.0.0.1:9", TOPIC, "http://127.0.0.1:9/signals")
    policy = RetryPolicy.testing()
    return RecordFlow(
        sender=HttpSender(settings, r.server, r.metrics, clock=lambda: NOW),
        dead_letters=DeadLetterWriter(r.producer, DLQ, policy),
        gate=r.gate,
        policy=policy,
        metrics=r.metrics,
        max_body_size=65536,
        clock=lambda: NOW,
        dead_letter_rejected=True,
    )


def outcome_counts(r: Rig) -> dict[str, float]:
    """`signal_relay_outcomes_total` by label, zeros left out."""
    counts = {final.value: r.metrics.outcomes.labels(final.value).value for final in Final}
    return {label: n for label, n in counts.items() if n}


async def test_a_rejected_201_is_rejected_not_delivered_and_not_dead_lettered() -> None:
    """By default: final `rejected`, counted so, one POST, nothing in the DLQ."""
    r = rig()
    r.server.default = REJECTED
    assert await run(r.flow, record(0)) is Final.REJECTED
    assert outcome_counts(r) == {"rejected": 1}
    assert len(r.server.posted) == 1
    assert r.producer.sent == []


async def test_with_the_setting_on_a_rejection_is_also_a_dead_letter() -> None:
    """RELAY_DEAD_LETTER_REJECTED: a letter `rejected` with the 201 and its body; outcome stays."""
    r = rig()
    r.server.default = REJECTED
    assert await run(dead_lettering(r), record(0)) is Final.REJECTED
    assert outcome_counts(r) == {"rejected": 1}
    assert (
        r.metrics.registry.get_sample_value(
            "signal_relay_dlq_records_total", {"reason": "rejected"}
        )
        == 1
    )
    [(_, headers)] = r.producer.sent
    assert headers["dlq.reason"] == b"rejected"
    assert headers["dlq.http.status"] == b"201"
    assert headers["dlq.http.body"] == REJECTION
    assert b"stop loss too tight; stop_loss" in headers["dlq.error"]


async def test_a_replayed_rejection_is_still_rejected() -> None:
    """Idempotent-Replayed: true on a rejected 201 repeats the verdict: `rejected`, no duplicate."""
    r = rig()
    r.server.default = HttpAnswer(201, {"idempotent-replayed": "true"}, "", REJECTION)
    assert await run(r.flow, record(0)) is Final.REJECTED
    assert outcome_counts(r) == {"rejected": 1}


@pytest.mark.parametrize(
    "content",
    [
        REJECTION.replace(b'"rejected"', b'"pending_approval"'),
        REJECTION.replace(b'"rejected"', b'"received"'),
        REJECTION.replace(b'"rejected"', b'"refused"'),
        b"Created",
        b"",
    ],
    ids=["pending_approval", "received", "unknown status", "not JSON", "empty"],
)
async def test_any_other_201_is_delivered(content: bytes) -> None:
    """Pending approval, received, an unknown status or an unreadable body: delivered."""
    r = rig()
    r.server.default = HttpAnswer(201, {}, "", content)
    assert await run(dead_lettering(r), record(0)) is Final.DELIVERED
    assert outcome_counts(r) == {"delivered": 1}
    assert r.producer.sent == []
