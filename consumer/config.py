"""Start-up configuration: read the environment once into one frozen, validated `Settings`.

Every problem is reported as a `ConfigError` naming the variable; the CLI prints it as one line
and exits with status 2. Secret values never appear in a message or a repr.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import math
import os
import re
import ssl
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeVar
from urllib.parse import SplitResult, urlsplit

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
    "read_secret_file",
]

DEFAULT_MAX_IN_FLIGHT = 128
MAX_SECRET_FILE_BYTES = 64 * 1024
MAX_CA_FILE_BYTES = 16 * 1024 * 1024
SASL_MECHANISMS = ("PLAIN", "GSSAPI", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")
_TELEGRAM_TOKEN = re.compile(rb"[A-Za-z0-9:_-]+")
_TELEGRAM_CHAT = re.compile(r"-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31}")
_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
# One DNS label; `_` is allowed because container and service names often carry one.
_LABEL = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
_PORT = re.compile(r"[0-9]{1,5}")
_CREDENTIALS_IN_URL = (
    "must not contain credentials (user:password@); the URL is logged and shown, so put them "
    "in a secret setting instead"
)
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
    """Everything the relay needs, validated once at start-up (docs/PROTOCOL.md §10)."""

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
    topic = _topic(env.text("KAFKA_TOPIC", "signals.candidates"), "KAFKA_TOPIC")
    settings = Settings(
        producer_id=_producer_id(env),
        secret=_secret(env, "HMAC_PRODUCER_SECRET", min_bytes=MIN_SECRET_BYTES),
        server_url=_server_url(env),
        bootstrap_servers=_bootstrap_servers(env),
        topic=topic,
        group_id=_printable("KAFKA_GROUP_ID", env.text("KAFKA_GROUP_ID", "signal-relay")),
        dlq_topic=_dlq_topic(env, topic),
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
        metrics_host=_metrics_host(env),
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
    if s.retry.base_seconds > s.retry.max_seconds:
        raise ConfigError("RELAY_RETRY_BASE_SECONDS", "must be at most RELAY_RETRY_MAX_SECONDS")


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
        value = read_secret_file(file_name, path).strip()
        source = file_name
    elif direct is not None:
        value, source = direct.encode(), name
    else:
        raise ConfigError(name, f"is required (or {file_name})")
    if len(value) < min_bytes:
        raise ConfigError(source, f"must be at least {min_bytes} bytes")
    return Secret(value)


def read_secret_file(variable: str, path: str) -> bytes:
    """The bytes of the secret file `path` (not stripped), or a `ConfigError` naming `variable`.

    Only a regular file of at most `MAX_SECRET_FILE_BYTES` is read, and opening it never blocks:
    a FIFO without a writer, a device or a directory is refused instead of hanging or filling
    memory. No message shows the content.
    """
    return _read_regular_file(variable, path, MAX_SECRET_FILE_BYTES)


def _read_regular_file(variable: str, path: str, limit: int) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(variable, f"cannot read the file ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(variable, f"is not a regular file (it is {_file_kind(info.st_mode)})")
        if info.st_size > limit:
            raise ConfigError(variable, f"file is larger than {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, limit + 1 - size):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:  # the file grew after fstat
                raise ConfigError(variable, f"file is larger than {limit} bytes")
        return b"".join(chunks)
    except OSError as exc:
        raise ConfigError(variable, f"cannot read the file ({exc.strerror})") from None
    finally:
        os.close(fd)


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((kind for test, kind in kinds if test(mode)), "not a file")


def _ca_file(env: _Env, name: str) -> str | None:
    """A CA bundle path that really loads: checked the way the TLS clients will load it."""
    path = env.raw(name)
    if path is None:
        return None
    _read_regular_file(name, path, MAX_CA_FILE_BYTES)  # refuses FIFOs and devices first
    try:
        ssl.create_default_context(cafile=path)
    except (ssl.SSLError, OSError, ValueError):
        raise ConfigError(name, "is not a PEM CA bundle (no certificate could be loaded)") from None
    return path


def _has_control(value: str) -> bool:
    return any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value)


def _printable(name: str, value: str) -> str:
    if _has_control(value):
        raise ConfigError(name, "must not contain control characters")
    return value


def _is_url_text(value: str) -> bool:
    """Printable ASCII only: no space, no control character (urlsplit drops tabs and newlines)."""
    return all("!" <= c <= "~" for c in value)


def _is_host(host: str) -> bool:
    """An IPv4/IPv6 literal (no brackets) or a DNS host name."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return True
    name = host.removesuffix(".")
    if not name or len(name) > 253:
        return False
    labels = name.split(".")
    # An all-digit last label is a mistyped IPv4 address (999.999.999.999), never a name.
    return all(_LABEL.fullmatch(label) for label in labels) and not labels[-1].isdigit()


def _port_problem(text: str) -> str | None:
    if text == "":
        return "has an empty port"
    if not _PORT.fullmatch(text):
        return "has a port that is not a number"
    if not 1 <= int(text) <= 65535:
        return f"has port {int(text)}, outside 1-65535"
    return None


def _broker_problem(entry: str) -> str | None:
    """What is wrong with one `host[:port]` entry as aiokafka parses it, or None."""
    if entry == "":
        return "is empty"
    if entry.startswith("["):
        host, closed, rest = entry[1:].partition("]")
        if not closed:
            return "has no closing ]"
        if not _is_ipv6(host):
            return "has no IPv6 address between [ ]"
        if rest == "":
            return None
        if not rest.startswith(":"):
            return "has text after ] that is not :port"
        return _port_problem(rest[1:])
    if entry.count(":") > 1:
        if _is_ipv6(entry):  # aiokafka takes a bare IPv6 literal with the default port
            return None
        return "is not host:port (write an IPv6 address as [address]:port)"
    host, colon, port = entry.partition(":")
    if host == "":
        return "has no host"
    if not _is_host(host):
        return "has an invalid host name"
    return _port_problem(port) if colon else None


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _bootstrap_servers(env: _Env) -> str:
    name = "KAFKA_BOOTSTRAP_SERVERS"
    value = env.text(name, "localhost:9092")
    entries = value.split(",")
    for number, entry in enumerate(entries, 1):
        problem = _broker_problem(entry.strip())
        if problem is not None:
            where = f"entry {number}" if len(entries) > 1 else "the value"
            raise ConfigError(name, f"must be host[:port][,host[:port]...]; {where} {problem}")
    return value


def _topic(value: str, name: str) -> str:
    if not _TOPIC.fullmatch(value) or value in {".", ".."}:
        raise ConfigError(
            name, "must be a Kafka topic name: 1-249 of A-Z a-z 0-9 . _ - (and not . or ..)"
        )
    return value


def _dlq_topic(env: _Env, topic: str) -> str:
    name = "KAFKA_DLQ_TOPIC"
    value = env.raw(name)
    if value is None:
        value = f"{topic}.dlq"
        if len(value) > 249:
            raise ConfigError(name, "is required: the default <KAFKA_TOPIC>.dlq is too long")
        return value
    _topic(value, name)
    if value == topic:
        raise ConfigError(name, "must differ from KAFKA_TOPIC (dead letters would be relayed)")
    if value.replace(".", "_") == topic.replace(".", "_"):
        raise ConfigError(
            name, "must differ from KAFKA_TOPIC by more than . versus _ (Kafka says they collide)"
        )
    return value


def _metrics_host(env: _Env) -> str:
    value = env.text("RELAY_METRICS_HOST", "0.0.0.0")  # noqa: S104
    if not _is_host(value):
        raise ConfigError(
            "RELAY_METRICS_HOST", "must be an IPv4 or IPv6 address (without [ ]) or a host name"
        )
    return value


def _url(name: str, value: str, what: str) -> SplitResult:
    """Check an http(s) URL; no message echoes it, as a URL may carry a token or password."""
    if not _is_url_text(value):
        raise ConfigError(
            name,
            f"{what}: printable ASCII only, no spaces or control characters "
            "(percent-encode them; write an international host name as xn--)",
        )
    try:
        parts = urlsplit(value)
    except ValueError:
        raise ConfigError(name, f"{what}: the host does not parse (check the [ ])") from None
    if parts.scheme not in {"http", "https"}:
        raise ConfigError(name, what)
    if "@" in parts.netloc:
        raise ConfigError(name, _CREDENTIALS_IN_URL)
    host = parts.hostname
    if not host:
        raise ConfigError(name, what)
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0 or parts.netloc.endswith(":"):
        raise ConfigError(name, f"{what}: the port must be a number in 1-65535")
    valid = _is_ipv6(host) if parts.netloc.startswith("[") else _is_host(host) and ":" not in host
    if not valid:
        raise ConfigError(name, f"{what}: the host is not a valid host name or IP address")
    return parts


def _server_url(env: _Env) -> str:
    name = "OUTBOUND_SERVER_URL"
    value = env.required(name).rstrip("/")
    _url(name, value, "must be an http(s) base URL")
    if "?" in value or "#" in value:
        raise ConfigError(name, "must not have a query or fragment")
    return value


def _ingest_path(env: _Env) -> str:
    name = "OUTBOUND_INGEST_PATH"
    value = env.text(name, "/api/v1/signals/ingest")
    if not value.startswith("/"):
        raise ConfigError(name, "must be an absolute path starting with /")
    if not _is_url_text(value):
        raise ConfigError(
            name, "must be printable ASCII, no spaces or control characters (percent-encode them)"
        )
    if "?" in value or "#" in value:
        raise ConfigError(name, "must be a path, without ? or #")
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
    verify = env.boolean("OUTBOUND_TLS_VERIFY", True)
    ca_file = _ca_file(env, "OUTBOUND_TLS_CA_FILE")
    if ca_file is None:
        return verify
    if not verify:
        raise ConfigError("OUTBOUND_TLS_VERIFY", "cannot be false when OUTBOUND_TLS_CA_FILE is set")
    return ca_file


def _retry(env: _Env) -> RetrySettings:
    return RetrySettings(
        base_seconds=env.number("RELAY_RETRY_BASE_SECONDS", 0.2, float, 0, 60),
        max_seconds=env.number("RELAY_RETRY_MAX_SECONDS", 30.0, float, 0, 3600),
        retry_after_cap_seconds=env.number("RELAY_RETRY_AFTER_CAP_SECONDS", 60.0, float, 0, 3600),
        max_attempts=env.number("RELAY_MAX_ATTEMPTS", 0, int, 0),
        systemic_probe_seconds=env.number("RELAY_SYSTEMIC_PROBE_SECONDS", 5.0, float, 0.01, 3600),
    )


def _sasl_mechanism(env: _Env) -> str | None:
    name = "KAFKA_SASL_MECHANISM"
    mechanism = env.raw(name)
    if mechanism is None:
        return None
    usable = ", ".join(m for m in SASL_MECHANISMS if m != "OAUTHBEARER")
    if mechanism == "OAUTHBEARER":
        raise ConfigError(name, f"OAUTHBEARER needs a token provider; use one of {usable}")
    if mechanism not in SASL_MECHANISMS:
        raise ConfigError(name, f"must be one of {usable}")
    if mechanism == "GSSAPI" and importlib.util.find_spec("gssapi") is None:
        raise ConfigError(name, "GSSAPI needs the gssapi package, which is not installed")
    return mechanism


def _kafka_security(env: _Env) -> KafkaSecurity:
    protocol = env.choice(
        "KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
    )
    password: Secret | None = None
    if env.raw("KAFKA_SASL_PASSWORD") or env.raw("KAFKA_SASL_PASSWORD_FILE"):
        password = _secret(env, "KAFKA_SASL_PASSWORD", min_bytes=1)
        try:
            password.reveal().decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError("KAFKA_SASL_PASSWORD", "must be UTF-8 text") from None
    username = env.raw("KAFKA_SASL_USERNAME")
    if username is not None:
        _printable("KAFKA_SASL_USERNAME", username)
    mechanism = env.raw("KAFKA_SASL_MECHANISM")
    sasl = protocol.startswith("SASL")
    if sasl and mechanism is None:
        raise ConfigError("KAFKA_SASL_MECHANISM", f"is required with {protocol}")
    mechanism = _sasl_mechanism(env)
    if sasl and mechanism in {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}:
        if username is None:
            raise ConfigError("KAFKA_SASL_USERNAME", f"is required with {mechanism}")
        if password is None:
            raise ConfigError(
                "KAFKA_SASL_PASSWORD", f"is required (or KAFKA_SASL_PASSWORD_FILE) with {mechanism}"
            )
    ca_file = _ca_file(env, "KAFKA_SSL_CAFILE")
    if ca_file is not None and protocol not in {"SSL", "SASL_SSL"}:
        raise ConfigError(
            "KAFKA_SSL_CAFILE", f"is set, but KAFKA_SECURITY_PROTOCOL {protocol} does not use TLS"
        )
    return KafkaSecurity(
        protocol=protocol,  # type: ignore[arg-type]
        sasl_mechanism=mechanism,
        sasl_username=username,
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
    if chat_id is not None and not _TELEGRAM_CHAT.fullmatch(chat_id):
        raise ConfigError(
            "ALERT_TELEGRAM_CHAT_ID", "must be a chat number (-100123...) or @channelname"
        )
    webhook: Secret | None = None
    if env.raw("ALERT_WEBHOOK_URL") or env.raw("ALERT_WEBHOOK_URL_FILE"):
        webhook = _secret(env, "ALERT_WEBHOOK_URL", min_bytes=1)
        _http_url("ALERT_WEBHOOK_URL", webhook.reveal().decode("utf-8", "replace"))
    telegram_api_url = _http_url(
        "ALERT_TELEGRAM_API_URL", env.text("ALERT_TELEGRAM_API_URL", "https://api.telegram.org")
    ).rstrip("/")
    if "?" in telegram_api_url or "#" in telegram_api_url:
        raise ConfigError("ALERT_TELEGRAM_API_URL", "must not have a query or fragment")
    return AlertSettings(
        telegram_bot_token=token,
        telegram_chat_id=chat_id,
        telegram_api_url=telegram_api_url,
        webhook_url=webhook,
        systemic_after_seconds=env.number("ALERT_SYSTEMIC_AFTER_SECONDS", 60.0, float, 0, 86400),
        key_failure_threshold=env.number("ALERT_KEY_FAILURE_THRESHOLD", 10, int, 0),
        min_interval_seconds=env.number("ALERT_MIN_INTERVAL_SECONDS", 300.0, float, 0, 86400),
        max_per_hour=env.number("ALERT_MAX_PER_HOUR", 30, int, 1),
        timeout_seconds=env.number("ALERT_TIMEOUT_SECONDS", 10.0, float, 0.1, 60),
    )


def _http_url(name: str, value: str) -> str:
    """`value` if it is an http(s) URL without credentials; the error never echoes it."""
    _url(name, value, "must be an http(s) URL")
    return value
