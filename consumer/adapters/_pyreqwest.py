"""POSTs through pyreqwest (Rust: reqwest on hyper), `OUTBOUND_HTTP_TRANSPORT=pyreqwest`.

The same `HttpClient` contract as the aiohttp and httpx transports (consumer/adapters/_http.py),
with the same bounds on whatever the server answers:
- redirects are never followed (a 3xx is returned as it is: systemic);
- the response is handed over at its head (no read-ahead of the body), and no decompression:
  the body is read as sent, at most `_MAX_BODY_READ` bytes, for at most
  `_BODY_READ_SECONDS`; a longer, slower or endless body is dropped unread, which closes its
  connection (hyper never drains an abandoned body), and the status stands; a body that breaks
  off before its end is a transport error, retried;
- `OUTBOUND_TIMEOUT_SECONDS` bounds the whole request; cookies, proxies from the environment
  and the Referer header are off.

TLS: `OUTBOUND_TLS_VERIFY=false` accepts any certificate (tests only); a CA bundle
(`OUTBOUND_TLS_CA_FILE`) is refused with this transport by the configuration, because reqwest
can only add roots to its built-in ones, never trust the bundle alone. A client certificate
(settings `tls_cert_file` + `tls_key_file`, from `OUTBOUND_TLS_CERT_FILE`/`_KEY_FILE`) is sent
as a PEM identity; a key password, or any other client-certificate setting, refuses the
transport when the client is built (reqwest reads only unencrypted PEM keys), rather than
connecting without the certificate.

Every pyreqwest error is re-raised as `PyreqwestTransportError` (an `OSError`: a transport
error to `HttpSender`), except its timeouts, which are already `TimeoutError`s.

Not re-exported by `consumer.adapters`: this module imports pyreqwest (the `pyreqwest` extra),
so `build_http_client` imports it only when the transport is chosen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from pyreqwest.client import ClientBuilder
from pyreqwest.exceptions import PyreqwestError, RequestTimeoutError
from pyreqwest.response import Response

from consumer import __version__
from consumer.adapters._http import (
    _BODY_READ_SECONDS,
    _KEPT_HEADERS,
    _MAX_BODY_READ,
    HttpAnswer,
    _answer,
)
from consumer.config import Settings
from consumer.errors import SignalRelayError

__all__ = ["PyreqwestClient", "PyreqwestTransportError"]

_USER_AGENT = f"signal-relay/{__version__}"


class PyreqwestTransportError(SignalRelayError, ConnectionError):
    """No (complete) response arrived through pyreqwest; the message names its own error."""


class PyreqwestClient:
    """The shared pyreqwest client: a pool of at most `max_in_flight` connections."""

    def __init__(self, settings: Settings) -> None:
        builder = (
            ClientBuilder()
            .max_connections(settings.max_in_flight)
            .pool_max_idle_per_host(settings.max_in_flight)
            .follow_redirects(False)
            .gzip(False)
            .brotli(False)
            .zstd(False)
            .deflate(False)
            .default_cookie_store(False)
            .referer(False)
            .no_proxy()
            .user_agent(_USER_AGENT)
            .timeout(timedelta(seconds=settings.timeout_seconds))
        )
        if settings.tls_verify is False:
            builder = builder.danger_accept_invalid_certs(True)
        elif isinstance(settings.tls_verify, str):
            raise ValueError("OUTBOUND_HTTP_TRANSPORT=pyreqwest cannot trust a CA bundle alone")
        identity = _identity(settings)
        if identity is not None:
            builder = builder.identity_pem(identity)
        self._client = builder.build()

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> HttpAnswer:
        # No read-ahead: a streamed request otherwise buffers up to 64 KiB of the body before
        # it yields the response, and a trickling 201 would time out instead of being final.
        request = (
            self._client.post(url)
            .headers(headers)
            .body_bytes(body)
            .streamed_read_buffer_limit(0)
            .build_streamed()
        )
        try:
            async with request as response:
                raw = await _read_bounded(response)
                kept = {
                    name: value
                    for name in _KEPT_HEADERS
                    if (value := response.get_header(name)) is not None
                }
                return _answer(response.status, kept, raw)
        except RequestTimeoutError:
            raise
        except PyreqwestError as exc:
            raise PyreqwestTransportError(f"{type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        await self._client.close()


async def _read_bounded(response: Response) -> bytes:
    """Up to `_MAX_BODY_READ` bytes of the body, cut after `_BODY_READ_SECONDS`.

    A body whose Content-Length has been read is complete without one more read to see its end
    (each read is a round trip to hyper's thread); an empty one needs no read and no timer.
    """
    declared = response.get_header("content-length")
    length = int(declared) if declared is not None and declared.isdigit() else -1
    raw = bytearray()
    if length == 0:
        return b""
    reader = response.body_reader
    try:
        async with asyncio.timeout(_BODY_READ_SECONDS):
            while len(raw) <= _MAX_BODY_READ and len(raw) != length:
                chunk = await reader.read(_MAX_BODY_READ + 1 - len(raw))
                if chunk is None:
                    break
                raw += bytes(chunk)
    except TimeoutError:
        pass
    return bytes(raw)


_IDENTITY_FIELDS = ("tls_cert_file", "tls_key_file")


def _identity(settings: Settings) -> bytes | None:
    """The client certificate and its key as one PEM buffer, when both are set.

    Any other client-certificate setting that is set (a key password, a field this module does
    not know yet) refuses the transport rather than connecting without the certificate.
    """
    set_fields = {
        name
        for name in type(settings).model_fields
        if name.startswith(("tls_cert", "tls_key")) and getattr(settings, name) is not None
    }
    if unknown := set_fields - set(_IDENTITY_FIELDS):
        raise ValueError(
            f"OUTBOUND_HTTP_TRANSPORT=pyreqwest does not support {', '.join(sorted(unknown))}"
        )
    if not set_fields:
        return None
    cert, key = (getattr(settings, name, None) for name in _IDENTITY_FIELDS)
    if cert is None or key is None:
        raise ValueError("OUTBOUND_HTTP_TRANSPORT=pyreqwest needs both the certificate and key")
    return Path(str(cert)).read_bytes() + b"\n" + Path(str(key)).read_bytes()
