"""RELAY_MAX_SIGNAL_AGE_SECONDS and RELAY_MAX_REQUESTS_PER_SECOND: unset is off, bounds named."""

import pytest
from relay_harness import relay_env

from consumer.config import ConfigError, load_settings

AGE, RATE = "RELAY_MAX_SIGNAL_AGE_SECONDS", "RELAY_MAX_REQUESTS_PER_SECOND"


def _env(**overrides: str) -> dict[str, str]:
    return relay_env("127.0.0.1:9", "signals", "http://127.0.0.1:9", **overrides)


def test_unset_or_empty_means_no_limit() -> None:
    """Neither variable set (or set empty): no age limit and no rate limit."""
    for env in (_env(), _env(**{AGE: "", RATE: ""})):
        settings = load_settings(env)
        assert settings.max_signal_age_seconds is None
        assert settings.max_requests_per_second is None


def test_values_within_bounds_are_taken() -> None:
    """300 s and 12.5 requests/s are read as numbers."""
    settings = load_settings(_env(**{AGE: "300", RATE: "12.5"}))
    assert (settings.max_signal_age_seconds, settings.max_requests_per_second) == (300.0, 12.5)


@pytest.mark.parametrize(
    ("value", "problem"),
    [("0", "must be at least"), ("abc", "must be a number"), ("inf", "must be at most")],
)
def test_out_of_bounds_values_are_refused_by_name(value: str, problem: str) -> None:
    """Zero, text and infinity are refused, each problem naming its variable."""
    with pytest.raises(ConfigError) as refused:
        load_settings(_env(**{AGE: value, RATE: value}))
    lines = [str(p) for p in refused.value.problems]
    assert any(line.startswith(f"{AGE}: {problem}") for line in lines)
    assert any(line.startswith(f"{RATE}: {problem}") for line in lines)
