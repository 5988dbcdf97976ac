"""Start-up refuses every absurd setting with one line naming the variable, never echoing secrets.

Each case here used to be accepted, or to crash later inside aiokafka, aiohttp or a read.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import certifi
import pytest
from relay_harness import SECRET as HARNESS_SECRET
from relay_harness import relay_env

from consumer.config import ConfigError, Settings, load_settings

SECRET = "rejections-secret-0123456789"
PASSWORD = "s3cr3t-Pa55word-in-url"
BASE = {
    "HMAC_PRODUCER_SECRET": SECRET,
    "PRODUCER_ID": "desk-1",
    "OUTBOUND_SERVER_URL": "https://signals.example.com",
}
REPO = Path(__file__).resolve().parent.parent


def refused(env: dict[str, str]) -> ConfigError:
    """The ConfigError `load_settings` raises for BASE plus `env`, checked to be one clean line."""
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, **env})
    error = caught.value
    text = f"{error!s} {error!r}"
    assert str(error) == f"{error.variable}: {error.problem}"
    assert "\n" not in str(error)
    assert SECRET not in text
    assert PASSWORD not in text
    return error


def accepted(env: dict[str, str]) -> Settings:
    return load_settings({**BASE, **env})


# -- KAFKA_BOOTSTRAP_SERVERS -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("host:notaport", "the value has a port that is not a number"),
        (":9092", "the value has no host"),
        ("host:", "the value has an empty port"),
        ("host:0", "the value has port 0, outside 1-65535"),
        ("host:65536", "the value has port 65536, outside 1-65535"),
        ("a:9092,b:99999", "entry 2 has port 99999, outside 1-65535"),
        ("a:9092,", "entry 2 is empty"),
        ("bad host!:9092", "the value has an invalid host name"),
        ("999.999.999.999:9092", "the value has an invalid host name"),
        ("[::1:9092", "the value has no closing ]"),
        ("[not-ipv6]:9092", "the value has no IPv6 address between [ ]"),
        ("[::1]9092", "the value has text after ] that is not :port"),
        ("fe80::1:zz:9092", "the value is not host:port (write an IPv6 address as [address]:port)"),
    ],
)
def test_bad_bootstrap_servers_are_refused(value: str, problem: str) -> None:
    error = refused({"KAFKA_BOOTSTRAP_SERVERS": value})
    assert error.variable == "KAFKA_BOOTSTRAP_SERVERS"
    assert error.problem == f"must be host[:port][,host[:port]...]; {problem}"


@pytest.mark.parametrize(
    "value",
    [
        "localhost:9092",
        "kafka-1.internal:9092, kafka-2.internal:9093,10.0.0.3:9094",
        "[::1]:9092",
        "[::1]",
        "::1",
        "broker",
        "kafka_1:29092",
        "127.0.0.1:1,127.0.0.1:65535",
    ],
)
def test_good_bootstrap_servers_are_kept_as_written(value: str) -> None:
    assert accepted({"KAFKA_BOOTSTRAP_SERVERS": value}).bootstrap_servers == value


# -- URLs: OUTBOUND_SERVER_URL, ALERT_TELEGRAM_API_URL, ALERT_WEBHOOK_URL ---------------------

BASE_URL = "must be an http(s) base URL"
CREDENTIALS = "must not contain credentials (user:password@)"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("http://[::1", f"{BASE_URL}: the host does not parse"),
        ("http://[::1]:99999", f"{BASE_URL}: the port must be a number in 1-65535"),
        ("http://signals.example.com:99999", f"{BASE_URL}: the port must be a number in 1-65535"),
        ("http://signals.example.com:abc", f"{BASE_URL}: the port must be a number in 1-65535"),
        ("http://signals.example.com:0", f"{BASE_URL}: the port must be a number in 1-65535"),
        ("http://signals.example.com:/", f"{BASE_URL}: the port must be a number in 1-65535"),
        ("http://signals example.com", f"{BASE_URL}: printable ASCII only"),
        ("http://signals.example.com/a\nb", f"{BASE_URL}: printable ASCII only"),
        ("http://signals.example.com/a\tb", f"{BASE_URL}: printable ASCII only"),
        ("http://sïgnals.example.com", f"{BASE_URL}: printable ASCII only"),
        ("http://signals!.example.com", f"{BASE_URL}: the host is not a valid host name"),
        ("http://999.999.999.999:8080", f"{BASE_URL}: the host is not a valid host name"),
        (f"http://user:{PASSWORD}@signals.example.com", CREDENTIALS),
        (f"https://{PASSWORD}@signals.example.com:8443/base", CREDENTIALS),
        (f"http://user:{PASSWORD}@signals.example.com:abc", CREDENTIALS),
        ("http://signals.example.com/?", "must not have a query or fragment"),
        ("ftp://signals.example.com", BASE_URL),
    ],
)
def test_bad_server_urls_are_refused_without_echoing_them(value: str, problem: str) -> None:
    error = refused({"OUTBOUND_SERVER_URL": value})
    assert error.variable == "OUTBOUND_SERVER_URL"
    assert error.problem.startswith(problem)
    assert value not in str(error)
    assert "signals" not in error.problem


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("http://[::1]:8080/", "http://[::1]:8080"),
        ("http://127.0.0.1:8080/prefix", "http://127.0.0.1:8080/prefix"),
        ("HTTPS://Signals.Example.com:443", "HTTPS://Signals.Example.com:443"),
        ("http://receiver:65535", "http://receiver:65535"),
    ],
)
def test_good_server_urls_are_accepted(value: str, kept: str) -> None:
    assert accepted({"OUTBOUND_SERVER_URL": value}).server_url == kept


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (f"https://bot:{PASSWORD}@api.telegram.org", CREDENTIALS),
        ("https://api.telegram.org:99999", "must be an http(s) URL: the port must be"),
        ("https://[::1", "must be an http(s) URL: the host does not parse"),
        ("https://api.telegram.org/?x=1", "must not have a query or fragment"),
    ],
)
def test_bad_telegram_api_urls_are_refused_without_echoing_them(value: str, problem: str) -> None:
    error = refused({"ALERT_TELEGRAM_API_URL": value})
    assert error.variable == "ALERT_TELEGRAM_API_URL"
    assert error.problem.startswith(problem)
    assert "telegram" not in error.problem


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (f"https://hook:{PASSWORD}@hooks.example.com/x", CREDENTIALS),
        ("https://hooks.example.com:abc/x", "must be an http(s) URL: the port must be"),
        ("https://hooks example.com/x", "must be an http(s) URL: printable ASCII only"),
    ],
)
def test_bad_webhook_urls_are_refused_without_echoing_them(value: str, problem: str) -> None:
    error = refused({"ALERT_WEBHOOK_URL": value})
    assert error.variable == "ALERT_WEBHOOK_URL"
    assert error.problem.startswith(problem)
    assert "hooks" not in error.problem


def test_a_webhook_url_may_carry_its_token_in_the_query() -> None:
    url = f"https://hooks.example.com/x?token={PASSWORD}"
    webhook = accepted({"ALERT_WEBHOOK_URL": url}).alerts.webhook_url
    assert webhook is not None
    assert webhook.reveal() == url.encode()


# -- OUTBOUND_INGEST_PATH -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("/api/v1\r\nX-Evil: 1", "must be printable ASCII"),
        ("/api/v1\nsignals", "must be printable ASCII"),
        ("/api/v1/\x00", "must be printable ASCII"),
        ("/api/v1/\x7f", "must be printable ASCII"),
        ("/api/v1/sïgnals", "must be printable ASCII"),
        ("/api/v1 signals", "must be printable ASCII"),
        ("/api/v1?x=1", "must be a path, without ? or #"),
        ("/api/v1#top", "must be a path, without ? or #"),
        ("api/v1", "must be an absolute path starting with /"),
    ],
)
def test_bad_ingest_paths_are_refused(value: str, problem: str) -> None:
    error = refused({"OUTBOUND_INGEST_PATH": value})
    assert error.variable == "OUTBOUND_INGEST_PATH"
    assert error.problem.startswith(problem)


def test_a_percent_encoded_ingest_path_is_accepted() -> None:
    settings = accepted({"OUTBOUND_INGEST_PATH": "/api/v1/sign%20als"})
    assert settings.ingest_url == "https://signals.example.com/api/v1/sign%20als"


# -- CA bundles ---------------------------------------------------------------------------------

CA_ENV = {
    "OUTBOUND_TLS_CA_FILE": {},
    "KAFKA_SSL_CAFILE": {"KAFKA_SECURITY_PROTOCOL": "SSL"},
}


@pytest.mark.parametrize("variable", sorted(CA_ENV))
@pytest.mark.parametrize("content", [b"", b"not a certificate\n", b"-----BEGIN CERTIFICATE-----\n"])
def test_a_ca_file_that_is_not_pem_is_refused(
    variable: str, content: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "ca.pem"
    path.write_bytes(content)
    error = refused({**CA_ENV[variable], variable: str(path)})
    assert error.variable == variable
    assert error.problem.startswith("is not a PEM CA bundle")


@pytest.mark.parametrize("variable", sorted(CA_ENV))
@pytest.mark.timeout(20)
def test_a_ca_file_that_is_a_fifo_or_missing_is_refused_without_blocking(
    variable: str, tmp_path: Path
) -> None:
    fifo = tmp_path / "ca.fifo"
    os.mkfifo(fifo)
    error = refused({**CA_ENV[variable], variable: str(fifo)})
    assert (error.variable, error.problem) == (variable, "is not a regular file (it is a FIFO)")
    error = refused({**CA_ENV[variable], variable: str(tmp_path / "absent.pem")})
    assert (error.variable, error.problem) == (
        variable,
        "cannot read the file (No such file or directory)",
    )


def test_real_ca_bundles_are_accepted() -> None:
    bundle = certifi.where()
    settings = accepted(
        {
            "OUTBOUND_TLS_CA_FILE": bundle,
            "KAFKA_SECURITY_PROTOCOL": "SSL",
            "KAFKA_SSL_CAFILE": bundle,
        }
    )
    assert settings.tls_verify == bundle
    assert settings.kafka_security.ssl_cafile == bundle


def test_a_kafka_ca_file_without_tls_is_refused() -> None:
    error = refused({"KAFKA_SSL_CAFILE": certifi.where()})
    assert error.variable == "KAFKA_SSL_CAFILE"
    assert "KAFKA_SECURITY_PROTOCOL PLAINTEXT does not use TLS" in error.problem


def test_a_ca_file_with_verification_off_is_contradictory() -> None:
    error = refused({"OUTBOUND_TLS_CA_FILE": certifi.where(), "OUTBOUND_TLS_VERIFY": "false"})
    assert error.variable == "OUTBOUND_TLS_VERIFY"
    assert error.problem == "cannot be false when OUTBOUND_TLS_CA_FILE is set"


def test_tls_verify_is_checked_even_with_a_ca_file() -> None:
    error = refused({"OUTBOUND_TLS_CA_FILE": certifi.where(), "OUTBOUND_TLS_VERIFY": "maybe"})
    assert (error.variable, error.problem) == ("OUTBOUND_TLS_VERIFY", "must be true or false")


# -- Kafka SASL ---------------------------------------------------------------------------------

SASL = {
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_USERNAME": "relay",
    "KAFKA_SASL_PASSWORD": PASSWORD,
}
USABLE = "PLAIN, GSSAPI, SCRAM-SHA-256, SCRAM-SHA-512"


@pytest.mark.parametrize(
    ("mechanism", "problem"),
    [
        ("SCRAM-SHA-1", f"must be one of {USABLE}"),
        ("plain", f"must be one of {USABLE}"),
        ("OAUTHBEARER", f"OAUTHBEARER needs a token provider; use one of {USABLE}"),
    ],
)
def test_an_unsupported_sasl_mechanism_is_refused(mechanism: str, problem: str) -> None:
    error = refused({**SASL, "KAFKA_SASL_MECHANISM": mechanism})
    assert (error.variable, error.problem) == ("KAFKA_SASL_MECHANISM", problem)


def test_gssapi_without_its_package_is_refused() -> None:
    env = {**SASL, "KAFKA_SASL_MECHANISM": "GSSAPI"}
    if importlib.util.find_spec("gssapi") is None:
        error = refused(env)
        assert error.problem == "GSSAPI needs the gssapi package, which is not installed"
    else:
        assert accepted(env).kafka_security.sasl_mechanism == "GSSAPI"


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_password_mechanisms_need_a_username_and_a_password(mechanism: str) -> None:
    security = accepted({**SASL, "KAFKA_SASL_MECHANISM": mechanism}).kafka_security
    assert security.sasl_mechanism == mechanism
    without_user = {k: v for k, v in SASL.items() if k != "KAFKA_SASL_USERNAME"}
    error = refused({**without_user, "KAFKA_SASL_MECHANISM": mechanism})
    assert (error.variable, error.problem) == (
        "KAFKA_SASL_USERNAME",
        f"is required with {mechanism}",
    )
    without_password = {k: v for k, v in SASL.items() if k != "KAFKA_SASL_PASSWORD"}
    error = refused({**without_password, "KAFKA_SASL_MECHANISM": mechanism})
    assert error.variable == "KAFKA_SASL_PASSWORD"
    assert error.problem == f"is required (or KAFKA_SASL_PASSWORD_FILE) with {mechanism}"


def test_a_sasl_password_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "password"
    path.write_bytes(b"\xff\xfe-not-utf8")
    env = {k: v for k, v in SASL.items() if k != "KAFKA_SASL_PASSWORD"}
    error = refused({**env, "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_PASSWORD_FILE": str(path)})
    assert (error.variable, error.problem) == ("KAFKA_SASL_PASSWORD", "must be UTF-8 text")


def test_a_sasl_username_with_a_control_character_is_refused() -> None:
    error = refused({**SASL, "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "re\x01lay"})
    assert (error.variable, error.problem) == (
        "KAFKA_SASL_USERNAME",
        "must not contain control characters",
    )


# -- RELAY_METRICS_HOST -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["999.999.999.999", "1.2.3", "[::1]", "::g", "ops host", "ops!", "-ops", "a" * 64]
)
def test_a_bad_metrics_host_is_refused(value: str) -> None:
    error = refused({"RELAY_METRICS_HOST": value})
    assert (error.variable, error.problem) == (
        "RELAY_METRICS_HOST",
        "must be an IPv4 or IPv6 address (without [ ]) or a host name",
    )


@pytest.mark.parametrize(
    "value", ["0.0.0.0", "::", "127.0.0.1", "::1", "localhost", "relay-ops.internal", "ops_1"]
)
def test_good_metrics_hosts_are_accepted(value: str) -> None:
    assert accepted({"RELAY_METRICS_HOST": value}).metrics_host == value


# -- secret files -------------------------------------------------------------------------------

SECRET_FILES = ["HMAC_PRODUCER_SECRET", "KAFKA_SASL_PASSWORD", "ALERT_WEBHOOK_URL"]


def secret_file_env(name: str, path: Path | str) -> dict[str, str]:
    """BASE with `name` read from `path` (and the direct HMAC secret dropped when it is read)."""
    env = {**BASE, f"{name}_FILE": str(path)}
    if name == "HMAC_PRODUCER_SECRET":
        del env["HMAC_PRODUCER_SECRET"]
    return env


def refused_file(name: str, path: Path | str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_settings(secret_file_env(name, path))
    assert caught.value.variable == f"{name}_FILE"
    return caught.value


@pytest.mark.parametrize("name", SECRET_FILES)
@pytest.mark.timeout(20)
def test_a_secret_fifo_without_a_writer_is_refused_without_hanging(
    name: str, tmp_path: Path
) -> None:
    fifo = tmp_path / "secret.fifo"
    os.mkfifo(fifo)
    assert refused_file(name, fifo).problem == "is not a regular file (it is a FIFO)"


@pytest.mark.parametrize("name", SECRET_FILES)
def test_a_secret_file_that_is_a_directory_is_refused(name: str, tmp_path: Path) -> None:
    assert refused_file(name, tmp_path).problem == "is not a regular file (it is a directory)"


@pytest.mark.parametrize("name", SECRET_FILES)
@pytest.mark.timeout(20)
def test_dev_zero_as_a_secret_file_is_refused_without_reading_it(name: str) -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    assert (
        refused_file(name, "/dev/zero").problem
        == "is not a regular file (it is a character device)"
    )


@pytest.mark.parametrize("name", SECRET_FILES)
def test_a_huge_secret_file_is_refused_by_size(name: str, tmp_path: Path) -> None:
    path = tmp_path / "huge"
    with path.open("wb") as file:
        file.truncate(1 << 30)  # sparse: 1 GiB that is never read
    assert refused_file(name, path).problem == "file is larger than 65536 bytes"


def test_a_secret_file_at_the_size_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_bytes(b"k" * 65536)
    assert load_settings(secret_file_env("HMAC_PRODUCER_SECRET", path)).secret.reveal() == (
        b"k" * 65536
    )
    path.write_bytes(b"k" * 65537)
    assert refused_file("HMAC_PRODUCER_SECRET", path).problem == "file is larger than 65536 bytes"


# -- topics and other strings -------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["KAFKA_TOPIC", "KAFKA_DLQ_TOPIC"])
@pytest.mark.parametrize("value", ["bad topic!", ".", "..", "t" * 250, "sïgnals", "a/b"])
def test_an_illegal_topic_name_is_refused(variable: str, value: str) -> None:
    error = refused({variable: value})
    assert error.variable == variable
    assert error.problem.startswith("must be a Kafka topic name")


def test_the_dlq_topic_must_differ_from_the_topic() -> None:
    error = refused({"KAFKA_TOPIC": "signals", "KAFKA_DLQ_TOPIC": "signals"})
    assert error.variable == "KAFKA_DLQ_TOPIC"
    assert error.problem.startswith("must differ from KAFKA_TOPIC")
    error = refused({"KAFKA_TOPIC": "signals.in", "KAFKA_DLQ_TOPIC": "signals_in"})
    assert error.variable == "KAFKA_DLQ_TOPIC"
    assert "collide" in error.problem


def test_the_default_dlq_topic_must_fit() -> None:
    assert accepted({"KAFKA_TOPIC": "t" * 245}).dlq_topic == "t" * 245 + ".dlq"
    error = refused({"KAFKA_TOPIC": "t" * 246})
    assert error.variable == "KAFKA_DLQ_TOPIC"
    assert error.problem == "is required: the default <KAFKA_TOPIC>.dlq is too long"


def test_a_group_id_with_a_control_character_is_refused() -> None:
    error = refused({"KAFKA_GROUP_ID": "relay\x1b[31m"})
    assert (error.variable, error.problem) == (
        "KAFKA_GROUP_ID",
        "must not contain control characters",
    )


@pytest.mark.parametrize("value", ["100", "-1001234567890", "@alerts_channel"])
def test_good_telegram_chat_ids_are_accepted(value: str) -> None:
    env = {"ALERT_TELEGRAM_BOT_TOKEN": "123456:ABC-def_ghi", "ALERT_TELEGRAM_CHAT_ID": value}
    assert accepted(env).alerts.telegram_chat_id == value


@pytest.mark.parametrize("value", ["chat one", "@ab", "12<b>", "1" * 21])
def test_a_bad_telegram_chat_id_is_refused(value: str) -> None:
    error = refused(
        {"ALERT_TELEGRAM_BOT_TOKEN": "123456:ABC-def_ghi", "ALERT_TELEGRAM_CHAT_ID": value}
    )
    assert error.variable == "ALERT_TELEGRAM_CHAT_ID"
    assert error.problem == "must be a chat number (-100123...) or @channelname"


def test_the_retry_base_cannot_exceed_the_retry_ceiling() -> None:
    error = refused({"RELAY_RETRY_BASE_SECONDS": "10", "RELAY_RETRY_MAX_SECONDS": "5"})
    assert (error.variable, error.problem) == (
        "RELAY_RETRY_BASE_SECONDS",
        "must be at most RELAY_RETRY_MAX_SECONDS",
    )


# -- the command line ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "line"),
    [
        (
            {"KAFKA_BOOTSTRAP_SERVERS": "broker:notaport"},
            "signal-relay: KAFKA_BOOTSTRAP_SERVERS: must be host[:port][,host[:port]...]; "
            "the value has a port that is not a number",
        ),
        (
            {"OUTBOUND_SERVER_URL": f"http://relay:{PASSWORD}@127.0.0.1:8080"},
            "signal-relay: OUTBOUND_SERVER_URL: must not contain credentials (user:password@); "
            "the URL is logged and shown, so put them in a secret setting instead",
        ),
        (
            {"OUTBOUND_SERVER_URL": "http://[::1"},
            "signal-relay: OUTBOUND_SERVER_URL: must be an http(s) base URL: "
            "the host does not parse (check the [ ])",
        ),
        (
            {"HMAC_PRODUCER_SECRET": "", "HMAC_PRODUCER_SECRET_FILE": "/dev/zero"},
            "signal-relay: HMAC_PRODUCER_SECRET_FILE: is not a regular file "
            "(it is a character device)",
        ),
        (
            {"KAFKA_DLQ_TOPIC": "relay-cli-topic"},
            "signal-relay: KAFKA_DLQ_TOPIC: must differ from KAFKA_TOPIC "
            "(dead letters would be relayed)",
        ),
    ],
)
def test_run_exits_2_with_one_line_and_no_traceback(override: dict[str, str], line: str) -> None:
    env = relay_env("127.0.0.1:9092", "relay-cli-topic", "http://127.0.0.1:8080", **override)
    env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
    done = subprocess.run(
        [sys.executable, "-m", "consumer", "run"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [line]
    assert PASSWORD not in done.stderr
    assert HARNESS_SECRET not in done.stderr
