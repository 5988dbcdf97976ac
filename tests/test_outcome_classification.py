"""docs/PROTOCOL.md §7: every status class maps to the documented decision."""

from email.utils import formatdate

import pytest

from consumer.service import Outcome, classify, parse_retry_after


@pytest.mark.parametrize(
    ("status", "outcome", "reason"),
    [
        (201, Outcome.DELIVERED, None),
        (409, Outcome.DUPLICATE, None),
        (200, Outcome.TERMINAL, "unexpected_2xx"),
        (202, Outcome.TERMINAL, "unexpected_2xx"),
        (204, Outcome.TERMINAL, "unexpected_2xx"),
        (400, Outcome.TERMINAL, "http_4xx"),
        (413, Outcome.TERMINAL, "http_4xx"),
        (422, Outcome.TERMINAL, "http_4xx"),
        (408, Outcome.RETRY, None),
        (425, Outcome.RETRY, None),
        (429, Outcome.RETRY, None),
        (500, Outcome.RETRY, None),
        (502, Outcome.RETRY, None),
        (503, Outcome.RETRY, None),
        (None, Outcome.RETRY, None),
        (401, Outcome.SYSTEMIC, None),
        (403, Outcome.SYSTEMIC, None),
        (404, Outcome.SYSTEMIC, None),
        (405, Outcome.SYSTEMIC, None),
        (301, Outcome.SYSTEMIC, None),
    ],
)
def test_status_maps_to_decision(status: int | None, outcome: Outcome, reason: str | None) -> None:
    """Each status gets the contract's outcome and DLQ reason."""
    decision = classify(status, {})
    assert decision.outcome is outcome
    assert decision.dlq_reason == reason


def test_retry_after_seconds_and_http_date() -> None:
    """Retry-After is read as delta-seconds or as an HTTP date; garbage is ignored."""
    assert classify(429, {"retry-after": "7"}).retry_after == 7.0
    now = 1_800_000_000.0
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30)
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") is None
    assert classify(503, {}).retry_after is None


def test_a_201_is_judged_by_the_verdict_in_its_body() -> None:
    """201 `rejected` is REJECTED (reason `rejected`); `pending_approval` or no body, DELIVERED."""
    body = b'{"signal_id":"s","status":"%s","server_timestamp":"2027-01-15T08:00:00Z"}'
    rejected = classify(201, {}, body=body % b"rejected")
    assert (rejected.outcome, rejected.dlq_reason) == (Outcome.REJECTED, "rejected")
    assert classify(201, {}, body=body % b"pending_approval").outcome is Outcome.DELIVERED
    assert classify(201, {}, body=b"").outcome is Outcome.DELIVERED
    assert classify(200, {}, body=body % b"rejected").dlq_reason == "unexpected_2xx"
