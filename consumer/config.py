"""Start-up configuration: read the environment once into one frozen, validated `Settings`.

Every problem is reported as a `ConfigError` naming the variable; the CLI prints it as one line
and exits with status 2. Secret values never appear in a message or a repr.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from signing.signature import MIN_SECRET_BYTES, is_valid_producer_id

__all__ = [
    "AlertSettings",
    "ConfigError",
    "KafkaSecurity",
    "RetrySettings",
    "Secret",
    "Settings",
    "load_kafka_security",
    "load_settings",
]

DEFAULT_MAX_IN_FLIGHT = 128
_TELEGRAM_TOKEN = re.compile(rb"[A-Za-z0-9:_-]+")
_T = TypeVar("_T")


class ConfigError(ValueError):
    """A setting is missing or invalid; `str()` is the one line shown to the operator."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        self.problem = problem
        super().__init__(f"{variable}: {problem}")


class Secret:
    """Bytes that never show themselves: repr and str are redacted."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        self._value = value

    def reveal(self) -> bytes:
        """The secret bytes, for the one place that signs with them."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True)
class RetrySettings:
    """How failed attempts are retried.

    Attributes:
        base_seconds: first backoff ceiling; doubles per attempt (full jitter below it).
        max_seconds: ceiling of the exponential backoff.
        retry_after_cap_seconds: longest `Retry-After` that is honoured as given.
        max_attempts: attempts before a record goes to the DLQ as `max_attempts`; 0 = never.
        systemic_probe_seconds: pause between probes while a systemic failure lasts.
    """

    base_seconds: float = 0.2
    max_seconds: float = 30.0
    retry_after_cap_seconds: float = 60.0
    max_attempts: int = 0
    systemic_probe_seconds: float = 5.0


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """SASL/TLS settings passed to every aiokafka client."""

    protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: Secret | None = None
    ssl_cafile: str | None = None


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """When operator alerts fire and where they go; with no sink, alerts are log events only.

    Attributes:
        telegram_bot_token: Telegram Bot API token (a secret: it only ever travels in the URL).
        telegram_chat_id: the chat the bot writes to; set together with the token.
        telegram_api_url: Bot API base URL (tests point it at loopback).
        webhook_url: generic JSON webhook; a secret, as such URLs often embed a token.
        systemic_after_seconds: how long a systemic failure lasts before it is alerted.
        key_failure_threshold: attempts of one record that make its key alert; 0 = never.
        min_interval_seconds: at most one alert per (kind, key) in this many seconds.
        max_per_hour: at most this many alerts in any hour, all kinds together.
        timeout_seconds: timeout of one request to a sink.
    """

    telegram_bot_token: Secret | None = None
    telegram_chat_id: str | None = None
    telegram_api_url: str = "https://api.telegram.org"
    webhook_url: Secret | None = None
    systemic_after_seconds: float = 60.0
    key_failure_threshold: int = 10
    min_interval_seconds: float = 300.0
    max_per_hour: int = 30
    timeout_seconds: float = 10.0


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the relay needs, validated once at start-up (CONTRACT section 6)."""

    producer_id: str
    secret: Secret = field(repr=False)
    server_url: str
    bootstrap_servers: str = "localhost:9092"
    topic: str = "signals.candidates"
    group_id: str = "signal-relay"
    dlq_topic: str = "signals.candidates.dlq"
    session_timeout_ms: int = 10000
    heartbeat_interval_ms: int = 3000
    rebalance_timeout_ms: int = 60000
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    enabled: bool = True
    ingest_path: str = "/api/v1/signals/ingest"
    timeout_seconds: float = 30.0
    max_body_size: int = 65536
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    partition_buffer: int = 2000
    commit_interval_seconds: float = 0.2
    shutdown_grace_seconds: float = 25.0
    revoke_grace_seconds: float = 10.0
    metrics_port: int = 9400
    metrics_host: str = "0.0.0.0"  # noqa: S104 - probes come from outside the container
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"
    http_transport: Literal["aiohttp", "httpx"] = "aiohttp"
    tls_verify: bool | str = True
    retry: RetrySettings = field(default_factory=RetrySettings)
    kafka_security: KafkaSecurity = field(default_factory=KafkaSecurity)
    alerts: AlertSettings = field(default_factory=AlertSettings)

    @property
    def ingest_url(self) -> str:
        """The full URL every signal is POSTed to."""
        return self.server_url + self.ingest_path


class _Env:
    """Typed reads of the environment; each failure names its variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def raw(self, name: str) -> str | None:
        value = self._environ.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def text(self, name: str, default: str) -> str:
        return self.raw(name) or default

    def required(self, name: str) -> str:
        value = self.raw(name)
        if value is None:
            raise ConfigError(name, "is required")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(name, "must be true or false")

    def number(
        self,
        name: str,
        default: _T,
        parse: Callable[[str], _T],
        low: float | None = None,
        high: float | None = None,
    ) -> _T:
        value = self.raw(name)
        if value is None:
            return default
        try:
            parsed = parse(value)
        except ValueError:
            raise ConfigError(name, f"must be a number, got {value[:40]!r}") from None
        if not isinstance(parsed, int | float) or not math.isfinite(parsed):
            raise ConfigError(name, "must be a finite number")
        if low is not None and parsed < low:
            raise ConfigError(name, f"must be at least {low:g}")
        if high is not None and parsed > high:
            raise ConfigError(name, f"must be at most {high:g}")
        return parsed

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.text(name, default)
        if value not in allowed:
            raise ConfigError(name, f"must be one of {', '.join(allowed)}")
        return value


def load_kafka_security(environ: Mapping[str, str]) -> KafkaSecurity:
    """Only the Kafka SASL/TLS settings, for tools that talk to Kafka but not to the server."""
    return _kafka_security(_Env(environ))


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Validate the environment into `Settings`, or raise `ConfigError` naming the variable."""
    env = _Env(environ)
    topic = env.text("KAFKA_TOPIC", "signals.candidates")
    settings = Settings(
        producer_id=_producer_id(env),
        secret=_secret(env, "HMAC_PRODUCER_SECRET", min_bytes=MIN_SECRET_BYTES),
        server_url=_server_url(env),
        bootstrap_servers=env.text("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092"),
        topic=topic,
        group_id=env.text("KAFKA_GROUP_ID", "signal-relay"),
        dlq_topic=env.text("KAFKA_DLQ_TOPIC", f"{topic}.dlq"),
        session_timeout_ms=env.number("KAFKA_SESSION_TIMEOUT_MS", 10000, int, 1000, 300000),
        heartbeat_interval_ms=env.number("KAFKA_HEARTBEAT_INTERVAL_MS", 3000, int, 100, 100000),
        rebalance_timeout_ms=env.number("KAFKA_REBALANCE_TIMEOUT_MS", 60000, int, 1000, 600000),
        auto_offset_reset=_offset_reset(env),
        enabled=env.boolean("HMAC_PRODUCER_ENABLED", True),
        ingest_path=_ingest_path(env),
        timeout_seconds=env.number("OUTBOUND_TIMEOUT_SECONDS", 30.0, float, 5, 300),
        max_body_size=env.number("OUTBOUND_MAX_BODY_SIZE", 65536, int, 1024, 10 * 1024 * 1024),
        max_in_flight=env.number("RELAY_MAX_IN_FLIGHT", DEFAULT_MAX_IN_FLIGHT, int, 1),
        partition_buffer=env.number("RELAY_PARTITION_BUFFER", 2000, int, 1),
        commit_interval_seconds=env.number("RELAY_COMMIT_INTERVAL_SECONDS", 0.2, float, 0.01, 60),
        shutdown_grace_seconds=env.number("RELAY_SHUTDOWN_GRACE_SECONDS", 25.0, float, 0, 3600),
        revoke_grace_seconds=env.number("RELAY_REVOKE_GRACE_SECONDS", 10.0, float, 0, 240),
        metrics_port=env.number("RELAY_METRICS_PORT", 9400, int, 0, 65535),
        metrics_host=env.text("RELAY_METRICS_HOST", "0.0.0.0"),  # noqa: S104
        log_level=env.choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
        log_format=_log_format(env),
        http_transport=_transport(env),
        tls_verify=_tls_verify(env),
        retry=_retry(env),
        kafka_security=_kafka_security(env),
        alerts=_alerts(env),
    )
    _check_consistency(settings)
    return settings


def _check_consistency(s: Settings) -> None:
    """Rules between settings, each reported against the variable to change."""
    if s.heartbeat_interval_ms * 3 > s.session_timeout_ms:
        raise ConfigError(
            "KAFKA_HEARTBEAT_INTERVAL_MS", "must be at most a third of KAFKA_SESSION_TIMEOUT_MS"
        )
    # Revocation waits for in-flight requests, then commits; the group must still wait for us.
    if s.revoke_grace_seconds * 1000 + 5000 > s.rebalance_timeout_ms:
        raise ConfigError(
            "RELAY_REVOKE_GRACE_SECONDS",
            "must be at least 5 s shorter than KAFKA_REBALANCE_TIMEOUT_MS",
        )


def _producer_id(env: _Env) -> str:
    value = env.required("PRODUCER_ID")
    if not is_valid_producer_id(value):
        raise ConfigError("PRODUCER_ID", "must match ^[A-Za-z0-9._-]{1,64}$")
    return value


def _secret(env: _Env, name: str, *, min_bytes: int) -> Secret:
    file_name = f"{name}_FILE"
    direct, path = env.raw(name), env.raw(file_name)
    if direct is not None and path is not None:
        raise ConfigError(name, f"set either {name} or {file_name}, not both")
    if path is not None:
        try:
            value = Path(path).read_bytes().strip()
        except OSError as exc:
            raise ConfigError(file_name, f"cannot read the file ({exc.strerror})") from None
        source = file_name
    elif direct is not None:
        value, source = direct.encode(), name
    else:
        raise ConfigError(name, f"is required (or {file_name})")
    if len(value) < min_bytes:
        raise ConfigError(source, f"must be at least {min_bytes} bytes")
    return Secret(value)


def _server_url(env: _Env) -> str:
    value = env.required("OUTBOUND_SERVER_URL").rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError("OUTBOUND_SERVER_URL", "must be an http(s) base URL")
    if parts.query or parts.fragment:
        raise ConfigError("OUTBOUND_SERVER_URL", "must not have a query or fragment")
    return value


def _ingest_path(env: _Env) -> str:
    value = env.text("OUTBOUND_INGEST_PATH", "/api/v1/signals/ingest")
    if not value.startswith("/") or any(c in value for c in "?# \t"):
        raise ConfigError("OUTBOUND_INGEST_PATH", "must be an absolute path starting with /")
    return value


def _log_format(env: _Env) -> Literal["json", "console"]:
    return (
        "console" if env.choice("LOG_FORMAT", "json", ("json", "console")) == "console" else "json"
    )


def _offset_reset(env: _Env) -> Literal["earliest", "latest"]:
    value = env.choice("KAFKA_AUTO_OFFSET_RESET", "earliest", ("earliest", "latest"))
    return "latest" if value == "latest" else "earliest"


def _transport(env: _Env) -> Literal["aiohttp", "httpx"]:
    value = env.choice("OUTBOUND_HTTP_TRANSPORT", "aiohttp", ("aiohttp", "httpx"))
    return "httpx" if value == "httpx" else "aiohttp"


def _tls_verify(env: _Env) -> bool | str:
    ca_file = env.raw("OUTBOUND_TLS_CA_FILE")
    if ca_file is not None:
        if not Path(ca_file).is_file():
            raise ConfigError("OUTBOUND_TLS_CA_FILE", "is not a readable file")
        return ca_file
    return env.boolean("OUTBOUND_TLS_VERIFY", True)


def _retry(env: _Env) -> RetrySettings:
    return RetrySettings(
        base_seconds=env.number("RELAY_RETRY_BASE_SECONDS", 0.2, float, 0, 60),
        max_seconds=env.number("RELAY_RETRY_MAX_SECONDS", 30.0, float, 0, 3600),
        retry_after_cap_seconds=env.number("RELAY_RETRY_AFTER_CAP_SECONDS", 60.0, float, 0, 3600),
        max_attempts=env.number("RELAY_MAX_ATTEMPTS", 0, int, 0),
        systemic_probe_seconds=env.number("RELAY_SYSTEMIC_PROBE_SECONDS", 5.0, float, 0.01, 3600),
    )


def _kafka_security(env: _Env) -> KafkaSecurity:
    protocol = env.choice(
        "KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
    )
    password: Secret | None = None
    if env.raw("KAFKA_SASL_PASSWORD") or env.raw("KAFKA_SASL_PASSWORD_FILE"):
        password = _secret(env, "KAFKA_SASL_PASSWORD", min_bytes=1)
    mechanism = env.raw("KAFKA_SASL_MECHANISM")
    if protocol.startswith("SASL") and mechanism is None:
        raise ConfigError("KAFKA_SASL_MECHANISM", f"is required with {protocol}")
    ca_file = env.raw("KAFKA_SSL_CAFILE")
    if ca_file is not None and not Path(ca_file).is_file():
        raise ConfigError("KAFKA_SSL_CAFILE", "is not a readable file")
    return KafkaSecurity(
        protocol=protocol,  # type: ignore[arg-type]
        sasl_mechanism=mechanism,
        sasl_username=env.raw("KAFKA_SASL_USERNAME"),
        sasl_password=password,
        ssl_cafile=ca_file,
    )


def _alerts(env: _Env) -> AlertSettings:
    token: Secret | None = None
    if env.raw("ALERT_TELEGRAM_BOT_TOKEN") or env.raw("ALERT_TELEGRAM_BOT_TOKEN_FILE"):
        token = _secret(env, "ALERT_TELEGRAM_BOT_TOKEN", min_bytes=1)
        # The token becomes part of a URL path: anything else would change the request.
        if not _TELEGRAM_TOKEN.fullmatch(token.reveal()):
            raise ConfigError("ALERT_TELEGRAM_BOT_TOKEN", "must look like 123456:ABC-def_ghi")
    chat_id = env.raw("ALERT_TELEGRAM_CHAT_ID")
    if (token is None) != (chat_id is None):
        missing = "ALERT_TELEGRAM_CHAT_ID" if chat_id is None else "ALERT_TELEGRAM_BOT_TOKEN"
        raise ConfigError(missing, "is required when the other Telegram setting is set")
    webhook: Secret | None = None
    if env.raw("ALERT_WEBHOOK_URL") or env.raw("ALERT_WEBHOOK_URL_FILE"):
        webhook = _secret(env, "ALERT_WEBHOOK_URL", min_bytes=1)
        _http_url("ALERT_WEBHOOK_URL", webhook.reveal().decode("utf-8", "replace"))
    return AlertSettings(
        telegram_bot_token=token,
        telegram_chat_id=chat_id,
        telegram_api_url=_http_url(
            "ALERT_TELEGRAM_API_URL", env.text("ALERT_TELEGRAM_API_URL", "https://api.telegram.org")
        ).rstrip("/"),
        webhook_url=webhook,
        systemic_after_seconds=env.number("ALERT_SYSTEMIC_AFTER_SECONDS", 60.0, float, 0, 86400),
        key_failure_threshold=env.number("ALERT_KEY_FAILURE_THRESHOLD", 10, int, 0),
        min_interval_seconds=env.number("ALERT_MIN_INTERVAL_SECONDS", 300.0, float, 0, 86400),
        max_per_hour=env.number("ALERT_MAX_PER_HOUR", 30, int, 1),
        timeout_seconds=env.number("ALERT_TIMEOUT_SECONDS", 10.0, float, 0.1, 60),
    )


def _http_url(name: str, value: str) -> str:
    """`value` if it is an http(s) URL; the error never echoes it (a URL may hold a token)."""
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(name, "must be an http(s) URL")
    return value
