"""One signed HTTP attempt: sign with a fresh timestamp, POST, report what came back.

This module moves bytes; what an answer means is `outcome.classify`'s decision, and what to do
about it is `record_flow`'s. POSTs go straight through aiohttp by default
(`OUTBOUND_HTTP_TRANSPORT=aiohttp`), or through httpx's own transport (`httpx`). httpx's
AsyncClient layered over aiohttp cost more CPU per request than the rest of a record's work
together, and a relay on one core is bound by that CPU (bench/RESULTS.md).

Whatever the server sends, an answer costs bounded memory, on both transports:
- redirects are never followed (a 3xx is handed to `classify` as it is: systemic);
- at most `_MAX_BODY_READ` bytes of a body are read, undecoded (no gzip/deflate/br
  decompression), for at most `_BODY_READ_SECONDS`; a longer, slower or endless body closes
  its connection instead of being drained, and the status stands (a body that breaks off
  before its end is a transport error, retried); a 201's bytes are handed on as read, for
  `classify` to read the server's verdict in them;
- of the response headers only `Retry-After` and `Idempotent-Replayed` are kept (the client's
  own parser bounds line sizes; an over-long header is a transport error, retried like a
  dropped connection).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple, Protocol

import aiohttp
import httpx
import yarl

from consumer import __version__
from consumer.adapters._in_flight import InFlightSlots
from consumer.adapters._proxy import proxy_for
from consumer.adapters._request_rate import rate_limiter
from consumer.config import Settings
from consumer.ops._log_redaction import redact_userinfo
from consumer.ops._loop_metrics import LoopCounterChild
from consumer.ops._metrics import RelayMetrics
from consumer.ops._tracing import NO_TRACE_HEADERS
from signing._ingest_verdict import MAX_VERDICT_BYTES
from signing._profile import build_signer
from signing._tls import client_ssl_context, handshake_refusal, tls_refusal
from signing.canonical import CanonicalSignal
from signing.signer import SecretProvider

__all__ = [
    "AttemptResult",
    "HttpAnswer",
    "HttpClient",
    "HttpSender",
    "build_http_client",
    "redact_userinfo",
]

_log = logging.getLogger("signal_relay.delivery")
_MAX_BODY_EXCERPT = 1024
# A small body is read to its end, so that its connection goes back to the pool; past this
# size the connection is closed instead of draining what the server keeps sending. A 201's
# verdict is read from no more than this, by the relay and HmacClient alike.
_MAX_BODY_READ = MAX_VERDICT_BYTES
_BODY_READ_SECONDS = 1.0
_USER_AGENT = f"signal-relay/{__version__}"
# What "no response arrived" looks like from either client: connect/read errors, timeouts.
_TRANSPORT_ERRORS = (httpx.HTTPError, aiohttp.ClientError, TimeoutError, OSError)
# What `classify` reads: a wait asked for, and a 201 that replays an earlier acceptance.
_KEPT_HEADERS = ("retry-after", "idempotent-replayed")


class AttemptResult(NamedTuple):
    """What one attempt produced (a named tuple: made once per request, it is cheap to make).

    Attributes:
        status: the HTTP status, or None when no response arrived.
        headers: response headers (looked up case-insensitively).
        body: the response body, cut to 1 KiB (for logs and DLQ headers); empty for a 201.
        content: the body's bytes as read (at most 4 KiB and one byte): a 201's verdict.
        error: the transport error when there was no response.
        tls_refusal: the OpenSSL reason when TLS refused the connection (a client certificate
            the server rejects, a server certificate we do not trust): systemic, not transient.
        duration: seconds the attempt took.
        at: epoch seconds when the attempt was signed.
    """

    status: int | None
    headers: Mapping[str, str] = MappingProxyType({})
    body: str = ""
    error: str | None = None
    duration: float = 0.0
    at: float = 0.0
    tls_refusal: str | None = None
    content: bytes = b""


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """A response, read at most `_MAX_BODY_READ` bytes far.

    Attributes:
        status: the HTTP status.
        headers: the response headers the relay uses (`retry-after`, `idempotent-replayed`),
            lower-cased names.
        body: the response text cut to 1 KiB; empty for a 201, whose `content` is read.
        content: the bytes read (at most `_MAX_BODY_READ` and one byte, so an over-long body
            shows), kept for a 201 only: `classify` reads the server's verdict in them.
    """

    status: int
    headers: Mapping[str, str]
    body: str
    content: bytes = b""


class HttpClient(Protocol):
    """The shared keep-alive client: one POST at a time per call, closed once at the end."""

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> HttpAnswer:
        """POST `body`; raise a transport error when no response arrives."""
        ...

    async def aclose(self) -> None:
        """Close every pooled connection."""
        ...


def build_http_client(settings: Settings) -> HttpClient:
    """The client for `settings.http_transport`; call it with the event loop running."""
    if settings.http_transport == "aiohttp":
        return _AiohttpClient(settings)
    if settings.http_transport == "pyreqwest":
        # Imported here: pyreqwest is an optional extra, and its module imports this one.
        from consumer.adapters._pyreqwest import PyreqwestClient  # noqa: PLC0415

        return PyreqwestClient(settings)
    return _HttpxClient(settings)


def _ssl_context(settings: Settings) -> ssl.SSLContext:
    return client_ssl_context(settings.tls_verify, settings.tls_client_certificate)


class _AiohttpClient:
    def __init__(self, settings: Settings) -> None:
        connector = aiohttp.TCPConnector(limit=settings.max_in_flight, ssl=_ssl_context(settings))
        self._proxy = proxy_for(settings.ingest_url)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=settings.timeout_seconds),
            headers={"User-Agent": _USER_AGENT},
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
        )

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> HttpAnswer:
        async with self._session.post(
            _parsed_url(url), data=body, headers=headers, allow_redirects=False, proxy=self._proxy
        ) as response:
            raw, complete = await _read_bounded(response.content)
            if not complete:
                response.close()
            return _answer(response.status, response.headers, raw)

    async def aclose(self) -> None:
        await self._session.close()


class _HttpxClient:
    def __init__(self, settings: Settings) -> None:
        limits = httpx.Limits(
            max_connections=settings.max_in_flight,
            max_keepalive_connections=settings.max_in_flight,
        )
        self._client = httpx.AsyncClient(
            verify=_ssl_context(settings),
            limits=limits,
            proxy=proxy_for(settings.ingest_url),
            trust_env=False,
            timeout=httpx.Timeout(settings.timeout_seconds),
            headers={"User-Agent": _USER_AGENT},
            follow_redirects=False,
        )

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> HttpAnswer:
        request = self._client.build_request("POST", url, content=body, headers=headers)
        response = await self._client.send(request, stream=True, follow_redirects=False)
        raw = bytearray()
        try:
            # aiter_raw: the bytes as sent, never decompressed; cut like `_read_bounded`.
            async with asyncio.timeout(_BODY_READ_SECONDS):
                async for chunk in response.aiter_raw():
                    raw += chunk
                    if len(raw) > _MAX_BODY_READ:
                        break
        except TimeoutError:
            pass
        finally:
            # Closing a response that was not read to its end closes its connection.
            await response.aclose()
        return _answer(response.status_code, response.headers, bytes(raw))

    async def aclose(self) -> None:
        await self._client.aclose()


# aiohttp parses a `str` URL on every request; the relay posts to one URL.
_parsed_url = functools.lru_cache(maxsize=16)(yarl.URL)


async def _read_bounded(content: aiohttp.StreamReader) -> tuple[bytes, bool]:
    """Up to `_MAX_BODY_READ` bytes of a body, and whether that was all of it.

    The status is the answer; the body is only an excerpt for logs and dead letters, so a body
    still trickling after `_BODY_READ_SECONDS` is cut where it is. A body that breaks off (the
    connection closes before its end) is a transport error: that answer is incomplete, and the
    attempt is retried with the same idempotency key.
    """
    if content.is_eof():
        # The whole body is already buffered (a small answer, usually): no read, no timer.
        whole = content.read_nowait(_MAX_BODY_READ + 1)
        return whole, len(whole) <= _MAX_BODY_READ and content.at_eof()
    raw = bytearray()
    try:
        async with asyncio.timeout(_BODY_READ_SECONDS):
            while len(raw) <= _MAX_BODY_READ:
                chunk = await content.read(_MAX_BODY_READ + 1 - len(raw))
                if not chunk:
                    return bytes(raw), True
                raw += chunk
    except TimeoutError:
        pass
    return bytes(raw), False


def _answer(status: int, received: Mapping[str, str], raw: bytes) -> HttpAnswer:
    headers = {
        name: value[:_MAX_BODY_EXCERPT]
        for name in _KEPT_HEADERS
        if (value := received.get(name)) is not None
    }
    if status == 201:
        return HttpAnswer(status, headers, "", raw)
    return HttpAnswer(status, headers, raw[:_MAX_BODY_EXCERPT].decode("utf-8", "replace"))


class HttpSender:
    """Sends signed POSTs, at most `max_in_flight` at once, through one shared client.

    With `max_requests_per_second` set, every POST (first attempts, retries, probes) also waits
    for the process's rate limiter, after its slot and before it is signed.
    """

    def __init__(
        self,
        settings: Settings,
        client: HttpClient,
        metrics: RelayMetrics,
        *,
        clock: Callable[[], float] = time.time,
        secret: SecretProvider | None = None,
    ) -> None:
        self._client = client
        self._url = settings.ingest_url
        # `secret`: a rotating secret (`_secret_watch`), asked on every attempt.
        self._signer = build_signer(
            settings.signing_profile,
            settings.secret.reveal() if secret is None else secret,
            producer_id=settings.producer_id,
            endpoint=settings.ingest_path,
        )
        self._slots = InFlightSlots(settings.max_in_flight)
        self._metrics = metrics
        self._clock = clock
        rate = settings.max_requests_per_second
        self._rate = None if rate is None else rate_limiter(rate)
        self._tls = _ssl_context(settings) if self._url.startswith("https:") else None
        # Labelled children, cached: `labels()` costs more than the `inc()` it leads to.
        self._answered: dict[int, LoopCounterChild] = {}

    async def send(
        self, signal: CanonicalSignal, trace_headers: Mapping[str, str] = NO_TRACE_HEADERS
    ) -> AttemptResult:
        """POST the signal once, signed at the moment it leaves (after waiting for a slot).

        `trace_headers` (W3C `traceparent`/`tracestate`) ride along unsigned; they cannot
        replace a signed header.
        """
        metrics = self._metrics
        async with self._slots:
            if self._rate is not None:
                await self._rate.acquire()
            at = self._clock()
            headers = self.sign(signal, at)
            if trace_headers:
                headers = {**trace_headers, **headers}
            metrics.in_flight.inc()
            started = time.perf_counter()
            try:
                answer = await self._client.post(self._url, signal.body, headers)
            except _TRANSPORT_ERRORS as exc:
                return await self._failed(exc, started, at)
            finally:
                metrics.in_flight.dec()
        duration = time.perf_counter() - started
        metrics.request_duration.observe(duration)
        answered = self._answered.get(answer.status)
        if answered is None:
            answered = metrics.http_responses.labels(str(answer.status))
            self._answered[answer.status] = answered
        answered.inc()
        return AttemptResult(
            status=answer.status,
            headers=answer.headers,
            body=answer.body,
            duration=duration,
            at=at,
            content=answer.content,
        )

    def sign(self, signal: CanonicalSignal, at: float) -> dict[str, str]:
        """The request headers for `signal`, signed as of epoch second `at`."""
        return self._signer.headers(signal.body, signal_id=signal.signal_id, at=at)

    async def _failed(self, exc: BaseException, started: float, at: float) -> AttemptResult:
        refusal = await self._tls_refusal(exc)
        duration = time.perf_counter() - started
        self._metrics.request_duration.observe(duration)
        self._metrics.http_responses.labels("error").inc()
        error = redact_userinfo(f"{type(exc).__name__}: {exc}")[:300]
        return AttemptResult(
            status=None, error=error, duration=duration, at=at, tls_refusal=refusal
        )

    async def _tls_refusal(self, exc: BaseException) -> str | None:
        """Whether TLS refused us; a dropped connection at an https URL is asked once more."""
        refusal = tls_refusal(exc)
        if refusal is None and self._tls is not None and not isinstance(exc, TimeoutError):
            # A client that meets the closed socket before the alert (httpx) loses the reason.
            refusal = await handshake_refusal(self._url, self._tls)
        return refusal
