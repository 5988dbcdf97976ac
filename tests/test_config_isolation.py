"""KAFKA_ISOLATION_LEVEL: read_committed unless told otherwise; anything else stops start-up."""

from __future__ import annotations

import subprocess
import sys

import pytest
from relay_harness import subprocess_env

from consumer.config import ConfigError, load_settings

BASE = {
    "HMAC_PRODUCER_SECRET": "isolation-settings-secret-0123",
    "PRODUCER_ID": "desk-1",
    "OUTBOUND_SERVER_URL": "https://signals.example.com",
}


def test_the_default_is_read_committed() -> None:
    """Without the variable the relay reads committed records only."""
    assert load_settings(BASE).isolation_level == "read_committed"


@pytest.mark.parametrize("level", ["read_committed", "read_uncommitted"])
def test_either_level_is_taken_as_given(level: str) -> None:
    """Both Kafka isolation levels are accepted."""
    settings = load_settings({**BASE, "KAFKA_ISOLATION_LEVEL": level})
    assert settings.isolation_level == level


@pytest.mark.parametrize("value", ["READ_COMMITTED", "committed", "1", "read-uncommitted"])
def test_any_other_value_is_refused_naming_the_variable_and_the_choices(value: str) -> None:
    """Kafka's names only, exactly: a near miss is refused with the two choices."""
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, "KAFKA_ISOLATION_LEVEL": value})
    assert [str(problem) for problem in caught.value.problems] == [
        "KAFKA_ISOLATION_LEVEL: must be one of read_committed, read_uncommitted"
    ]


def test_run_with_a_bad_level_exits_2_with_one_line_naming_the_variable() -> None:
    """`signal-relay run` stops before touching Kafka: exit 2, one stderr line."""
    env = {**BASE, "KAFKA_ISOLATION_LEVEL": "snapshot", "RELAY_METRICS_PORT": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "consumer", "run"],
        env=subprocess_env(env),
        capture_output=True,
        timeout=60,
        check=False,
    )
    lines = done.stderr.decode().splitlines()
    assert done.returncode == 2
    assert len(lines) == 1
    assert "KAFKA_ISOLATION_LEVEL" in lines[0]
    assert "snapshot" not in lines[0]
