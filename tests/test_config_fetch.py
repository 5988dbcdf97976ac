"""The fetch and static-membership settings: low-latency defaults, bounds, and what is refused."""

from __future__ import annotations

import pytest

from consumer.config import ConfigError, load_settings

BASE = {
    "HMAC_PRODUCER_SECRET": "fetch-settings-secret-0123",
    "PRODUCER_ID": "desk-1",
    "OUTBOUND_SERVER_URL": "https://signals.example.com",
}


def test_defaults_answer_within_100_ms_and_fetch_one_record() -> None:
    """By default a fetch waits at most 100 ms and answers for one record; no static id."""
    settings = load_settings(BASE)
    assert settings.fetch_max_wait_ms == 100
    assert settings.fetch_min_bytes == 1
    assert settings.max_partition_fetch_bytes == 1048576
    assert settings.group_instance_id is None


def test_values_in_bounds_are_taken() -> None:
    """Values inside the bounds are read as given."""
    settings = load_settings(
        {
            **BASE,
            "KAFKA_FETCH_MAX_WAIT_MS": "10",
            "KAFKA_FETCH_MIN_BYTES": "65536",
            "KAFKA_MAX_PARTITION_FETCH_BYTES": "4096",
            "KAFKA_GROUP_INSTANCE_ID": "relay-0.eu_1",
        }
    )
    assert settings.fetch_max_wait_ms == 10
    assert settings.fetch_min_bytes == 65536
    assert settings.max_partition_fetch_bytes == 4096
    assert settings.group_instance_id == "relay-0.eu_1"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("KAFKA_FETCH_MAX_WAIT_MS", "0"),
        ("KAFKA_FETCH_MAX_WAIT_MS", "30001"),
        ("KAFKA_FETCH_MAX_WAIT_MS", "fast"),
        ("KAFKA_FETCH_MIN_BYTES", "0"),
        ("KAFKA_MAX_PARTITION_FETCH_BYTES", "1023"),
        ("KAFKA_GROUP_INSTANCE_ID", "relay 1"),
        ("KAFKA_GROUP_INSTANCE_ID", "x" * 250),
    ],
)
def test_out_of_bounds_is_refused_naming_the_variable(variable: str, value: str) -> None:
    """A busy-loop wait, an empty fetch or an id Kafka would refuse stops start-up."""
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, variable: value})
    assert [problem.variable for problem in caught.value.problems] == [variable]
