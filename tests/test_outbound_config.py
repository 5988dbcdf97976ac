"""OutboundConfig keeps the seed's fields, variables and limits, and never shows its secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from signing import OutboundConfig, OutboundConfigError, OutboundError, OutboundSignatureError

SECRET = "config-test-secret-0123456789"
BASE_ENV = {
    "HMAC_PRODUCER_SECRET": SECRET,
    "PRODUCER_ID": "desk-7",
    "OUTBOUND_SERVER_URL": "https://signals.example/",
}


def test_from_env_reads_the_seed_variables_with_their_defaults() -> None:
    """Required variables set, the rest defaulted as docs/PROTOCOL.md §10 says."""
    config = OutboundConfig.from_env(BASE_ENV)

    assert config == OutboundConfig(
        producer_id="desk-7",
        producer_secret=SECRET.encode(),
        server_base_url="https://signals.example",
    )
    assert config.enabled is True
    assert config.timeout_seconds == 30.0
    assert config.max_body_size == 65536
    assert config.ingest_url == "https://signals.example/api/v1/signals/ingest"


def test_from_env_reads_every_optional_variable() -> None:
    """HMAC_PRODUCER_ENABLED, OUTBOUND_INGEST_PATH, OUTBOUND_TIMEOUT_SECONDS, _MAX_BODY_SIZE."""
    config = OutboundConfig.from_env(
        {
            **BASE_ENV,
            "HMAC_PRODUCER_ENABLED": "false",
            "OUTBOUND_INGEST_PATH": "/v2/ingest",
            "OUTBOUND_TIMEOUT_SECONDS": "12.5",
            "OUTBOUND_MAX_BODY_SIZE": "2048",
        }
    )

    assert (config.enabled, config.ingest_path) == (False, "/v2/ingest")
    assert (config.timeout_seconds, config.max_body_size) == (12.5, 2048)


def test_the_secret_can_come_from_a_file(tmp_path: Path) -> None:
    """HMAC_PRODUCER_SECRET_FILE is read and stripped; setting both variables is refused."""
    path = tmp_path / "secret"
    path.write_text(f"  {SECRET}\n")
    env = {k: v for k, v in BASE_ENV.items() if k != "HMAC_PRODUCER_SECRET"}

    config = OutboundConfig.from_env({**env, "HMAC_PRODUCER_SECRET_FILE": str(path)})

    assert config.producer_secret == SECRET.encode()
    with pytest.raises(OutboundConfigError, match="not both"):
        OutboundConfig.from_env({**BASE_ENV, "HMAC_PRODUCER_SECRET_FILE": str(path)})
    with pytest.raises(OutboundConfigError, match="HMAC_PRODUCER_SECRET_FILE: is not a regular"):
        OutboundConfig.from_env({**env, "HMAC_PRODUCER_SECRET_FILE": str(tmp_path)})


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PRODUCER_ID", "", "PRODUCER_ID\\): is required"),
        ("PRODUCER_ID", "desk 7", "PRODUCER_ID\\): must match"),
        ("HMAC_PRODUCER_SECRET", "", "HMAC_PRODUCER_SECRET: is required"),
        ("HMAC_PRODUCER_SECRET", "fifteen-bytes!!", "at least 16 bytes"),
        ("OUTBOUND_SERVER_URL", "", "OUTBOUND_SERVER_URL\\): is required"),
        ("OUTBOUND_SERVER_URL", "ftp://signals.example", "http\\(s\\) base URL"),
        ("OUTBOUND_SERVER_URL", "https://signals.example?x=1", "query or fragment"),
        ("OUTBOUND_SERVER_URL", "https://signals.example:0", "port"),
        ("OUTBOUND_INGEST_PATH", "ingest", "absolute path"),
        ("OUTBOUND_TIMEOUT_SECONDS", "4.9", "5-300"),
        ("OUTBOUND_TIMEOUT_SECONDS", "301", "5-300"),
        ("OUTBOUND_TIMEOUT_SECONDS", "nan", "5-300"),
        ("OUTBOUND_TIMEOUT_SECONDS", "soon", "must be a number"),
        ("OUTBOUND_MAX_BODY_SIZE", "1023", "1024-10485760"),
        ("OUTBOUND_MAX_BODY_SIZE", str(10 * 1024 * 1024 + 1), "1024-10485760"),
        ("HMAC_PRODUCER_ENABLED", "maybe", "true or false"),
    ],
)
def test_each_invalid_setting_is_refused_naming_its_variable(
    variable: str, value: str, message: str
) -> None:
    """One OutboundError per invalid setting, its message naming the variable to fix."""
    with pytest.raises(OutboundError, match=message) as caught:
        OutboundConfig.from_env({**BASE_ENV, variable: value})

    assert variable in str(caught.value)
    assert SECRET not in str(caught.value)


def test_a_secret_or_producer_id_that_cannot_sign_is_a_signature_error() -> None:
    """The seed's OutboundSignatureError for signing problems; OutboundConfigError otherwise."""
    with pytest.raises(OutboundSignatureError):
        OutboundConfig(producer_id="p", producer_secret=b"short", server_base_url="http://h")
    with pytest.raises(OutboundSignatureError):
        OutboundConfig(producer_id="", producer_secret=SECRET, server_base_url="http://h")
    with pytest.raises(OutboundConfigError):
        OutboundConfig(producer_id="p", producer_secret=SECRET, server_base_url="h")


def test_credentials_in_the_url_are_refused_without_echoing_them() -> None:
    """A URL with user:password@ is refused, and the message does not repeat it."""
    with pytest.raises(OutboundConfigError, match="credentials") as caught:
        OutboundConfig.from_env(
            {**BASE_ENV, "OUTBOUND_SERVER_URL": "https://desk:hunter2-password@signals.example"}
        )

    assert "hunter2" not in str(caught.value)


def test_repr_and_str_redact_the_secret() -> None:
    """The secret is `***` in repr and str; everything else is shown."""
    config = OutboundConfig.from_env(BASE_ENV)

    for text in (repr(config), str(config), f"{config}"):
        assert SECRET not in text
        assert "producer_secret='***'" in text
        assert "producer_id='desk-7'" in text
