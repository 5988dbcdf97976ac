"""Backoff: exponential ceiling with full jitter; Retry-After honoured up to its cap."""

from hypothesis import given
from hypothesis import strategies as st

from consumer.config import RetrySettings
from consumer.service import RetryPolicy

POLICY = RetryPolicy(
    RetrySettings(base_seconds=0.5, max_seconds=8, retry_after_cap_seconds=20, max_attempts=5)
)


@given(st.integers(min_value=1, max_value=200))
def test_delay_stays_under_the_exponential_ceiling(attempt: int) -> None:
    """Delay is within [0, min(max, base * 2**(attempt-1))]."""
    assert 0 <= POLICY.delay(attempt) <= min(8, 0.5 * 2 ** (attempt - 1))


@given(st.integers(min_value=1, max_value=50), st.floats(min_value=0, max_value=10_000))
def test_retry_after_is_a_floor_capped(attempt: int, retry_after: float) -> None:
    """The server's Retry-After is waited at least, but never beyond the cap."""
    delay = POLICY.delay(attempt, retry_after)
    assert delay >= min(retry_after, 20)
    assert delay <= max(8, 20)


def test_jitter_spreads_delays() -> None:
    """Full jitter: repeated delays for the same attempt are not all equal."""
    assert len({POLICY.delay(4) for _ in range(50)}) > 10


def test_exhaustion_only_when_a_limit_is_set() -> None:
    """max_attempts=5 exhausts at 5; 0 never exhausts."""
    assert not POLICY.exhausted(4)
    assert POLICY.exhausted(5)
    assert not RetryPolicy(RetrySettings(max_attempts=0)).exhausted(10_000)
