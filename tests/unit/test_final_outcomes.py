"""Each final answer maps to one `Final` outcome, counted under its fixed metric label."""

from __future__ import annotations

import pytest

from consumer.adapters import HttpAnswer
from consumer.service import Final
from unit.doubles import raw_record, record, rig, run


@pytest.mark.parametrize(
    ("status", "final", "reason"),
    [
        (201, Final.DELIVERED, None),
        (409, Final.DUPLICATE, None),
        (422, Final.DEAD_LETTERED, b"http_4xx"),
        (200, Final.DEAD_LETTERED, b"unexpected_2xx"),
    ],
)
async def test_a_final_answer_is_one_outcome(status: int, final: Final, reason: bytes) -> None:
    """201 delivered, 409 duplicate, other 4xx and non-201 2xx dead-lettered with their reason."""
    r = rig()
    r.server.default = HttpAnswer(status, {}, "")
    assert await run(r.flow, record(0)) is final
    assert r.metrics.outcomes.labels(final.value).value == 1
    assert r.producer.reasons() == ([] if reason is None else [reason])


async def test_an_invalid_record_is_dead_lettered_without_a_request() -> None:
    """A value that is not a signal goes to the DLQ as `invalid_*`; the server sees nothing."""
    r = rig()
    assert await run(r.flow, raw_record(0, b"k", b'{"instrument": "lower"}')) is (
        Final.DEAD_LETTERED
    )
    assert r.server.posted == []
    [reason] = r.producer.reasons()
    assert reason.startswith(b"invalid")


def test_the_outcome_labels_are_the_contracts_names() -> None:
    """The label values of `signal_relay_outcomes_total` are fixed names."""
    assert [f.value for f in Final] == [
        "delivered",
        "duplicate",
        "rejected",
        "dead_lettered",
        "dry_run",
        "dry_run_dead_letter",
    ]
