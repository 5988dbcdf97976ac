"""The client's TLS: whom it trusts, the certificate it presents (mutual TLS), and refusals.

One function builds the `ssl.SSLContext` for the relay's HTTP client (both transports) and for
`HmacClient`, so both trust and present the same things. A TLS refusal (the server rejects our
certificate or we reject its) says the client is misconfigured, not that a signal is bad:
`tls_refusal` names it, so that callers treat it like a 401 (systemic) instead of retrying a
dropped connection. A refusing server sends its alert and closes; a client whose write meets the
closed socket first (httpx) loses the alert, so `handshake_refusal` asks again with a bare
handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass
from typing import Final, Literal

import httpx

from signing.errors import SigningError

__all__ = [
    "ClientCertificate",
    "ClientCertificateError",
    "client_ssl_context",
    "handshake_refusal",
    "handshake_refusal_at",
    "tls_refusal",
]

# OpenSSL reasons that mean "this client's certificates are wrong", on either side.
_REFUSALS: Final = frozenset(
    {
        "CERTIFICATE_VERIFY_FAILED",
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
        "TLSV1_ALERT_UNKNOWN_CA",
        "TLSV1_ALERT_ACCESS_DENIED",
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_REVOKED",
        "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
        "SSLV3_ALERT_HANDSHAKE_FAILURE",
    }
)
_HANDSHAKE_PROBE_SECONDS: Final = 2.0
# How long a completed handshake waits for the server's verdict on our certificate (an alert
# follows within a round trip); a server that accepts sends nothing and the wait runs out.
_ALERT_WAIT_SECONDS: Final = 0.5


@dataclass(frozen=True, slots=True, repr=False)
class ClientCertificate:
    """The certificate the client presents to the server, and its private key.

    Attributes:
        cert_file: PEM file with the certificate (then its chain); it may hold the key too.
        key_file: PEM file with the private key, when it is not in `cert_file`.
        password: the key's password when the key is encrypted; never shown.
    """

    cert_file: str
    key_file: str | None = None
    password: bytes | None = None

    def __repr__(self) -> str:
        shown = "None" if self.password is None else "'***'"
        return (
            f"ClientCertificate(cert_file={self.cert_file!r}, key_file={self.key_file!r},"
            f" password={shown})"
        )


class ClientCertificateError(SigningError, ValueError):
    """The client certificate does not load; `part` says which file to fix."""

    def __init__(self, part: Literal["cert", "key", "password"], problem: str) -> None:
        self.part: Literal["cert", "key", "password"] = part
        self.problem = problem
        super().__init__(f"{part}: {problem}")


def client_ssl_context(
    verify: bool | str = True, certificate: ClientCertificate | None = None
) -> ssl.SSLContext:
    """The TLS context for requests to the signal server.

    `verify` is True (the system's CAs, as httpx finds them), a PEM CA bundle's path, or False
    (no verification: tests only). `certificate` is presented when the server asks for one;
    a certificate that does not load raises `ClientCertificateError`.
    """
    if isinstance(verify, str):
        context = ssl.create_default_context(cafile=verify)
    else:
        context = httpx.create_ssl_context(verify=verify)
    if certificate is not None:
        _load_client_certificate(context, certificate)
    return context


def _load_client_certificate(context: ssl.SSLContext, certificate: ClientCertificate) -> None:
    """Load `certificate` into `context`; never prompts for a password on a terminal."""

    def password() -> bytes:
        # Without a callback OpenSSL would prompt on the terminal for an encrypted key.
        return certificate.password or b""

    key_part: Literal["cert", "key"] = "cert" if certificate.key_file is None else "key"
    try:
        context.load_cert_chain(certificate.cert_file, certificate.key_file, password=password)
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise ClientCertificateError(
                key_part, "the key does not match the certificate"
            ) from None
        if b"-----BEGIN CERTIFICATE-----" not in _pem(certificate.cert_file):
            raise ClientCertificateError("cert", "holds no PEM certificate") from None
        if b"ENCRYPTED" not in _pem(certificate.key_file or certificate.cert_file):
            raise ClientCertificateError(key_part, "holds no PEM private key") from None
        if certificate.password is None:
            raise ClientCertificateError(
                key_part, "the key is encrypted; give its password"
            ) from None
        raise ClientCertificateError("password", "does not decrypt the key") from None
    except OSError as exc:
        raise ClientCertificateError("cert", f"cannot be read ({exc.strerror})") from None


def _pem(path: str) -> bytes:
    """The start of a PEM file, to tell which part of a certificate failed to load."""
    try:
        with open(path, "rb") as file:
            return file.read(1024 * 1024)
    except OSError:
        return b""


def tls_refusal(exc: BaseException) -> str | None:
    """The OpenSSL reason when `exc` (or an exception it came from) is a TLS refusal, else None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError) and current.reason in _REFUSALS:
            return str(current.reason)
        current = current.__cause__ or current.__context__
    return None


async def handshake_refusal(url: str, context: ssl.SSLContext) -> str | None:
    """The OpenSSL reason when a bare TLS handshake with `url`'s server is refused, else None."""
    parts = httpx.URL(url)
    if parts.scheme != "https" or not parts.host:
        return None
    return await handshake_refusal_at(parts.host, parts.port or 443, context)


async def handshake_refusal_at(host: str, port: int, context: ssl.SSLContext) -> str | None:
    """The OpenSSL reason when a bare TLS handshake with `host`:`port` is refused, else None.

    The handshake is completed and the first server record awaited briefly: a TLS 1.3 server
    judges the client's certificate after the client's side of the handshake is done, and says
    so in an alert. Anything else (no connection, a timeout, silence) is not a refusal.
    """
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(_HANDSHAKE_PROBE_SECONDS):
            reader, writer = await asyncio.open_connection(
                host, port, ssl=context, server_hostname=host
            )
        async with asyncio.timeout(_ALERT_WAIT_SECONDS):
            await reader.read(1)
    except (OSError, TimeoutError) as exc:
        return tls_refusal(exc)
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(_HANDSHAKE_PROBE_SECONDS):
                    await writer.wait_closed()
    return None
