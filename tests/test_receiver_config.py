"""ReceiverConfig: refused when out of range, and never showing a secret in its repr."""

import pytest

from signing.receiver.config import ReceiverConfig
from signing.receiver.errors import InvalidReceiverConfigError

SECRET = "config-test-secret-0123456789"


def test_repr_redacts_the_secrets() -> None:
    """The repr says how many secrets there are, never what they are."""
    config = ReceiverConfig(secrets=(SECRET, SECRET.encode()))

    assert SECRET not in repr(config)
    assert "<2 redacted>" in repr(config)
    assert SECRET not in str(config)


def test_defaults_follow_the_contract() -> None:
    """The default path, body limit and timestamp window are those of the contract."""
    config = ReceiverConfig(secrets=(SECRET,))

    assert config.ingest_path == "/api/v1/signals/ingest"
    assert config.max_body_size == 65536
    assert config.max_age_seconds == 300
    assert config.max_future_seconds == 60


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"secrets": ()}, "secrets"),
        ({"secrets": SECRET}, "secrets"),
        ({"secrets": ("too-short",)}, "secret #1"),
        ({"ingest_path": "api/v1"}, "ingest_path"),
        ({"ingest_path": "/_receiver/ingest"}, "ingest_path"),
        ({"max_body_size": 0}, "max_body_size"),
        ({"max_age_seconds": 0}, "max_age_seconds"),
        ({"max_future_seconds": -1}, "max_future_seconds"),
    ],
)
def test_out_of_range_settings_are_refused(changes: dict[str, object], named: str) -> None:
    """Each bad setting raises InvalidReceiverConfigError naming it, without echoing a secret."""
    settings: dict[str, object] = {"secrets": (SECRET,), **changes}

    with pytest.raises(InvalidReceiverConfigError, match=named) as caught:
        ReceiverConfig(**settings)  # type: ignore[arg-type]

    assert "too-short" not in str(caught.value)
    assert SECRET not in str(caught.value)
