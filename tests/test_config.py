"""Configuration: defaults, every rule, and one clear line naming the variable on error."""

import subprocess
import sys
from pathlib import Path

import pytest

from consumer.config import ConfigError, Secret, load_settings

SECRET = "config-secret-0123456789"
BASE = {
    "HMAC_PRODUCER_SECRET": SECRET,
    "PRODUCER_ID": "desk-1",
    "OUTBOUND_SERVER_URL": "https://signals.example.com/",
}


def test_defaults_follow_the_contract() -> None:
    """Unset variables take the contract's defaults; the DLQ topic follows KAFKA_TOPIC."""
    s = load_settings(BASE)
    assert s.bootstrap_servers == "localhost:9092"
    assert s.topic == "signals.candidates"
    assert s.dlq_topic == "signals.candidates.dlq"
    assert s.group_id == "signal-relay"
    assert s.enabled is True
    assert s.ingest_url == "https://signals.example.com/api/v1/signals/ingest"
    assert (s.timeout_seconds, s.max_body_size, s.metrics_port) == (30.0, 65536, 9400)
    assert s.shutdown_grace_seconds == 25.0
    assert (s.log_level, s.log_format) == ("INFO", "json")
    assert load_settings({**BASE, "KAFKA_TOPIC": "t"}).dlq_topic == "t.dlq"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PRODUCER_ID", ""),
        ("PRODUCER_ID", "has space"),
        ("PRODUCER_ID", "x" * 65),
        ("HMAC_PRODUCER_SECRET", "short"),
        ("OUTBOUND_SERVER_URL", "ftp://x"),
        ("OUTBOUND_SERVER_URL", "not a url"),
        ("OUTBOUND_TIMEOUT_SECONDS", "4"),
        ("OUTBOUND_TIMEOUT_SECONDS", "301"),
        ("OUTBOUND_TIMEOUT_SECONDS", "soon"),
        ("OUTBOUND_MAX_BODY_SIZE", "1023"),
        ("OUTBOUND_MAX_BODY_SIZE", str(10 * 1024 * 1024 + 1)),
        ("RELAY_MAX_IN_FLIGHT", "0"),
        ("RELAY_METRICS_PORT", "70000"),
        ("HMAC_PRODUCER_ENABLED", "maybe"),
        ("LOG_FORMAT", "xml"),
        ("LOG_LEVEL", "LOUD"),
        ("OUTBOUND_INGEST_PATH", "no-slash"),
        ("KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
        ("KAFKA_HEARTBEAT_INTERVAL_MS", "5000"),
        ("RELAY_REVOKE_GRACE_SECONDS", "56"),
    ],
)
def test_each_bad_setting_names_its_variable(variable: str, value: str) -> None:
    """A bad value raises ConfigError whose message starts with the variable's name."""
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, variable: value})
    name = "KAFKA_SASL_MECHANISM" if variable == "KAFKA_SECURITY_PROTOCOL" else variable
    assert str(caught.value).startswith(f"{name}: ")
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("missing", ["PRODUCER_ID", "HMAC_PRODUCER_SECRET", "OUTBOUND_SERVER_URL"])
def test_required_settings_are_required(missing: str) -> None:
    """Each required variable, when absent, is named in the error."""
    env = {k: v for k, v in BASE.items() if k != missing}
    with pytest.raises(ConfigError, match=rf"^{missing}: "):
        load_settings(env)


def test_secret_from_file_and_never_in_repr(tmp_path: Path) -> None:
    """HMAC_PRODUCER_SECRET_FILE is read and stripped; the settings repr hides the secret."""
    path = tmp_path / "secret"
    path.write_text(SECRET + "\n")
    env = {k: v for k, v in BASE.items() if k != "HMAC_PRODUCER_SECRET"}
    s = load_settings({**env, "HMAC_PRODUCER_SECRET_FILE": str(path)})
    assert s.secret == Secret(SECRET.encode())
    assert SECRET not in repr(s)
    assert SECRET not in str(s.secret)
    with pytest.raises(ConfigError, match=r"^HMAC_PRODUCER_SECRET: set either"):
        load_settings({**BASE, "HMAC_PRODUCER_SECRET_FILE": str(path)})
    with pytest.raises(ConfigError, match=r"^HMAC_PRODUCER_SECRET_FILE: cannot read"):
        load_settings({**env, "HMAC_PRODUCER_SECRET_FILE": str(tmp_path / "absent")})


def test_cli_exits_2_with_one_line_naming_the_variable() -> None:
    """`signal-relay run` with a bad setting prints one line, no traceback, no secret; exit 2."""
    env = {"PATH": "/usr/bin:/bin", **BASE, "OUTBOUND_TIMEOUT_SECONDS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "consumer", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines == ["signal-relay: OUTBOUND_TIMEOUT_SECONDS: must be at least 5"]
    assert SECRET not in done.stdout + done.stderr
