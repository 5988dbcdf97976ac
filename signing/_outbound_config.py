"""`OutboundConfig`: where and as whom `HmacClient` posts, checked once when built (seed PR-017).

The rules are the relay's (docs/PROTOCOL.md §10) for the same variables: a secret of at least
16 bytes, a producer id matching `^[A-Za-z0-9._-]{1,64}$`, an http(s) base URL without
credentials, query or fragment, an absolute ingest path, a timeout of 5-300 s and a body limit
of 1 KiB-10 MiB. No message and no repr shows the secret, and no message echoes the URL (it
may carry a token).
"""

from __future__ import annotations

import ipaddress
import math
import os
import ssl
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, TypeVar
from urllib.parse import urlsplit

from signing._client_errors import OutboundConfigError, OutboundSignatureError
from signing._profile import SIGNING_PROFILES
from signing._tls import ClientCertificate, ClientCertificateError, client_ssl_context
from signing.signature import DEFAULT_ENDPOINT, MIN_SECRET_BYTES, is_valid_producer_id

__all__ = ["OutboundConfig"]

MIN_TIMEOUT_SECONDS: Final = 5.0
MAX_TIMEOUT_SECONDS: Final = 300.0
MIN_BODY_SIZE: Final = 1024
MAX_BODY_SIZE: Final = 10 * 1024 * 1024
MAX_SECRET_FILE_BYTES: Final = 64 * 1024
_N = TypeVar("_N", int, float)

# Each field's environment variable, so that a message names both.
_VARIABLES: Final = {
    "producer_id": "PRODUCER_ID",
    "producer_secret": "HMAC_PRODUCER_SECRET",
    "server_base_url": "OUTBOUND_SERVER_URL",
    "enabled": "HMAC_PRODUCER_ENABLED",
    "timeout_seconds": "OUTBOUND_TIMEOUT_SECONDS",
    "max_body_size": "OUTBOUND_MAX_BODY_SIZE",
    "ingest_path": "OUTBOUND_INGEST_PATH",
    "tls_verify": "OUTBOUND_TLS_VERIFY",
    "tls_ca_file": "OUTBOUND_TLS_CA_FILE",
    "tls_cert_file": "OUTBOUND_TLS_CERT_FILE",
    "tls_key_file": "OUTBOUND_TLS_KEY_FILE",
    "tls_key_password": "OUTBOUND_TLS_KEY_PASSWORD_FILE",
    "signing_profile": "OUTBOUND_SIGNING_PROFILE",
}
# The field to fix for each part of a client certificate that does not load.
_CERTIFICATE_PARTS: Final = {"cert": "tls_cert_file", "key": "tls_key_file"}


def _setting(name: str) -> str:
    return f"{name} ({_VARIABLES[name]})"


@dataclass(frozen=True, slots=True, repr=False)
class OutboundConfig:
    """Where and as whom signals are posted; invalid values raise at construction.

    Attributes:
        producer_id: X-Producer-Id, `^[A-Za-z0-9._-]{1,64}$`.
        producer_secret: the HMAC secret, at least 16 bytes (text counts in UTF-8); never shown.
        server_base_url: the server's http(s) base URL, without a trailing slash.
        enabled: False is a dry run: signals are validated and signed, never sent.
        timeout_seconds: the whole of one request, connect to last byte read; 5-300.
        max_body_size: the largest canonical body sent, in bytes; 1 KiB-10 MiB.
        ingest_path: the path signals are posted to (and the ENDPOINT that is signed).
        tls_verify: verify the server's certificate; False only for tests.
        tls_ca_file: PEM CA bundle that verifies the server, instead of the system's.
        tls_cert_file: PEM client certificate presented to the server (mutual TLS).
        tls_key_file: its private key, unless `tls_cert_file` holds it.
        tls_key_password: the password of an encrypted key; never shown.
        signing_profile: `seed` (X-Signature) or `standard-webhooks` (`webhook-*` headers).

    Raises OutboundSignatureError for a secret or producer id that cannot sign, and
    OutboundConfigError for any other invalid value.
    """

    producer_id: str
    producer_secret: str | bytes
    server_base_url: str
    enabled: bool = True
    timeout_seconds: float = 30.0
    max_body_size: int = 65536
    ingest_path: str = DEFAULT_ENDPOINT
    tls_verify: bool = True
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_key_password: str | bytes | None = None
    signing_profile: str = "seed"

    def __post_init__(self) -> None:
        _check_secret(self.producer_secret)
        if not is_valid_producer_id(self.producer_id):
            raise OutboundSignatureError(
                f"{_setting('producer_id')}: must match ^[A-Za-z0-9._-]{{1,64}}$"
            )
        object.__setattr__(self, "server_base_url", _base_url(self.server_base_url))
        _check_path(self.ingest_path)
        _check_range(
            "timeout_seconds", self.timeout_seconds, MIN_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS
        )
        if isinstance(self.max_body_size, bool) or not isinstance(self.max_body_size, int):
            raise OutboundConfigError(_setting("max_body_size"), "must be a whole number of bytes")
        _check_range("max_body_size", self.max_body_size, MIN_BODY_SIZE, MAX_BODY_SIZE)
        if not isinstance(self.enabled, bool):
            raise OutboundConfigError(_setting("enabled"), "must be True or False")
        self.ssl_context()  # refuses a CA bundle or client certificate that does not load
        if self.signing_profile not in SIGNING_PROFILES:
            choices = ", ".join(SIGNING_PROFILES)
            raise OutboundConfigError(_setting("signing_profile"), f"must be one of {choices}")

    def __repr__(self) -> str:
        password = None if self.tls_key_password is None else "***"
        return (
            f"OutboundConfig(producer_id={self.producer_id!r}, producer_secret='***',"
            f" server_base_url={self.server_base_url!r}, enabled={self.enabled!r},"
            f" timeout_seconds={self.timeout_seconds!r}, max_body_size={self.max_body_size!r},"
            f" ingest_path={self.ingest_path!r}, tls_verify={self.tls_verify!r},"
            f" tls_ca_file={self.tls_ca_file!r}, tls_cert_file={self.tls_cert_file!r},"
            f" tls_key_file={self.tls_key_file!r}, tls_key_password={password!r},"
            f" signing_profile={self.signing_profile!r})"
        )

    __str__ = __repr__

    @property
    def ingest_url(self) -> str:
        """The full URL every signal is posted to."""
        return self.server_base_url + self.ingest_path

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context of requests to the server: its CA, and the client certificate."""
        if self.tls_ca_file is not None and not self.tls_verify:
            raise OutboundConfigError(_setting("tls_verify"), "cannot be false with a CA file")
        certificate = None
        if self.tls_cert_file is not None:
            password = self.tls_key_password
            certificate = ClientCertificate(
                self.tls_cert_file,
                self.tls_key_file,
                password.encode() if isinstance(password, str) else password,
            )
        elif self.tls_key_file is not None or self.tls_key_password is not None:
            raise OutboundConfigError(_setting("tls_cert_file"), "is required with a key")
        try:
            return client_ssl_context(self.tls_ca_file or self.tls_verify, certificate)
        except ClientCertificateError as exc:
            name = _CERTIFICATE_PARTS.get(exc.part, "tls_key_password")
            raise OutboundConfigError(_setting(name), exc.problem) from None
        except (ssl.SSLError, OSError):
            raise OutboundConfigError(
                _setting("tls_ca_file"), "is not a readable PEM CA bundle"
            ) from None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> OutboundConfig:
        """The config from the seed's variables (`os.environ` unless `environ` is given).

        HMAC_PRODUCER_SECRET or HMAC_PRODUCER_SECRET_FILE (not both; the file's content is
        stripped of surrounding whitespace), PRODUCER_ID, OUTBOUND_SERVER_URL (required);
        HMAC_PRODUCER_ENABLED (true), OUTBOUND_INGEST_PATH (/api/v1/signals/ingest),
        OUTBOUND_TIMEOUT_SECONDS (30), OUTBOUND_MAX_BODY_SIZE (65536), OUTBOUND_TLS_VERIFY
        (true), OUTBOUND_TLS_CA_FILE, OUTBOUND_TLS_CERT_FILE, OUTBOUND_TLS_KEY_FILE,
        OUTBOUND_TLS_KEY_PASSWORD_FILE (the file's first line is the password),
        OUTBOUND_SIGNING_PROFILE (seed). Blank counts as unset.
        """
        env = _Env(os.environ if environ is None else environ)
        return cls(
            producer_id=env.required("producer_id"),
            producer_secret=_secret_from_env(env),
            server_base_url=env.required("server_base_url"),
            enabled=env.boolean("enabled", default=True),
            timeout_seconds=env.number("timeout_seconds", 30.0, float),
            max_body_size=env.number("max_body_size", 65536, int),
            ingest_path=env.raw("ingest_path") or DEFAULT_ENDPOINT,
            tls_verify=env.boolean("tls_verify", default=True),
            tls_ca_file=env.raw("tls_ca_file"),
            tls_cert_file=env.raw("tls_cert_file"),
            tls_key_file=env.raw("tls_key_file"),
            tls_key_password=_key_password_from_env(env),
            signing_profile=env.raw("signing_profile") or "seed",
        )


class _Env:
    """Reads of the environment by field name; each failure names the variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def raw(self, name: str) -> str | None:
        value = self._environ.get(_VARIABLES.get(name, name))
        return None if value is None or not value.strip() else value.strip()

    def required(self, name: str) -> str:
        value = self.raw(name)
        if value is None:
            raise OutboundConfigError(_setting(name), "is required")
        return value

    def boolean(self, name: str, *, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() in {"1", "true", "yes", "on"}:
            return True
        if value.lower() in {"0", "false", "no", "off"}:
            return False
        raise OutboundConfigError(_setting(name), "must be true or false")

    def number(self, name: str, default: _N, parse: Callable[[str], _N]) -> _N:
        value = self.raw(name)
        if value is None:
            return default
        try:
            return parse(value)
        except ValueError:
            raise OutboundConfigError(
                _setting(name), f"must be a number, got {value[:40]!r}"
            ) from None


def _secret_from_env(env: _Env) -> bytes:
    variable = _VARIABLES["producer_secret"]
    file_variable = f"{variable}_FILE"
    direct, path = env.raw("producer_secret"), env.raw(file_variable)
    if direct is not None and path is not None:
        raise OutboundConfigError(variable, f"set either {variable} or {file_variable}, not both")
    if path is not None:
        return _read_secret_file(file_variable, path).strip()
    if direct is None:
        raise OutboundConfigError(variable, f"is required (or {file_variable})")
    return direct.encode()


def _key_password_from_env(env: _Env) -> bytes | None:
    path = env.raw("tls_key_password")
    if path is None:
        return None
    return _read_secret_file(_VARIABLES["tls_key_password"], path).rstrip(b"\r\n")


def _read_secret_file(variable: str, path: str) -> bytes:
    """A regular file of at most 64 KiB; opening never blocks (a FIFO, a device is refused)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise OutboundConfigError(variable, f"cannot read the file ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OutboundConfigError(variable, "is not a regular file")
        content = os.read(fd, MAX_SECRET_FILE_BYTES + 1)
    except OSError as exc:
        raise OutboundConfigError(variable, f"cannot read the file ({exc.strerror})") from None
    finally:
        os.close(fd)
    if len(content) > MAX_SECRET_FILE_BYTES:
        raise OutboundConfigError(variable, f"file is larger than {MAX_SECRET_FILE_BYTES} bytes")
    return content


def _check_secret(secret: object) -> None:
    setting = _setting("producer_secret")
    if isinstance(secret, str):
        try:
            size = len(secret.encode())
        except UnicodeEncodeError:
            raise OutboundSignatureError(f"{setting}: is not encodable as UTF-8") from None
    elif isinstance(secret, bytes):
        size = len(secret)
    else:
        raise OutboundSignatureError(f"{setting}: must be str or bytes")
    if size < MIN_SECRET_BYTES:
        raise OutboundSignatureError(f"{setting}: must be at least {MIN_SECRET_BYTES} bytes")


def _check_range(name: str, value: object, low: float, high: float) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise OutboundConfigError(_setting(name), f"must be a number in {low:.0f}-{high:.0f}")


def _is_url_text(value: str) -> bool:
    """Printable ASCII only: no space, no control character (urlsplit drops tabs and newlines)."""
    return all("!" <= c <= "~" for c in value)


def _base_url(value: object) -> str:
    """`value` without its trailing slashes, if it is an http(s) base URL; never echoed."""
    setting = _setting("server_base_url")
    what = "must be an http(s) base URL"
    if not isinstance(value, str) or not _is_url_text(value):
        raise OutboundConfigError(setting, f"{what}: printable ASCII only, no spaces")
    value = value.rstrip("/")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise OutboundConfigError(setting, f"{what}: the host or port does not parse") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise OutboundConfigError(setting, what)
    if "@" in parts.netloc:
        raise OutboundConfigError(
            setting, "must not contain credentials (user:password@); it is logged and shown"
        )
    if port == 0 or parts.netloc.endswith(":"):
        raise OutboundConfigError(setting, f"{what}: the port must be a number in 1-65535")
    if parts.netloc.startswith("["):
        try:
            ipaddress.IPv6Address(parts.hostname)
        except ValueError:
            raise OutboundConfigError(setting, f"{what}: no IPv6 address between [ ]") from None
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise OutboundConfigError(setting, "must not have a query or fragment")
    return value


def _check_path(path: object) -> None:
    setting = _setting("ingest_path")
    if not isinstance(path, str) or not path.startswith("/"):
        raise OutboundConfigError(setting, "must be an absolute path starting with /")
    if not _is_url_text(path):
        raise OutboundConfigError(setting, "must be printable ASCII, no spaces (percent-encode)")
    if "?" in path or "#" in path:
        raise OutboundConfigError(setting, "must be a path, without ? or #")
