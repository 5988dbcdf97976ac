"""One signed HTTP attempt: sign with a fresh timestamp, POST, report what came back.

This module moves bytes; what an answer means is `outcome.classify`'s decision, and what to do
about it is `record_flow`'s.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from consumer import __version__
from consumer.config import Settings
from consumer.metrics import RelayMetrics
from signing.canonical import CanonicalSignal
from signing.headers import signed_headers
from signing.timestamps import now_timestamp

__all__ = ["AttemptResult", "HttpSender", "build_http_client"]

_log = logging.getLogger("signal_relay.delivery")
_MAX_BODY_EXCERPT = 1024


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one attempt produced.

    Attributes:
        status: the HTTP status, or None when no response arrived.
        headers: response headers (lower-case names).
        body: the response body, cut to 1 KiB (for logs and DLQ headers).
        error: the transport error when there was no response.
        duration: seconds the attempt took.
        at: epoch seconds when the attempt was signed.
    """

    status: int | None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""
    error: str | None = None
    duration: float = 0.0
    at: float = 0.0


def build_http_client(settings: Settings) -> httpx.AsyncClient:
    """The one shared keep-alive client; aiohttp's transport by default (see bench/RESULTS.md)."""
    limits = httpx.Limits(
        max_connections=settings.max_in_flight,
        max_keepalive_connections=settings.max_in_flight,
    )
    transport: httpx.AsyncBaseTransport
    if settings.http_transport == "aiohttp":
        from httpx_aiohttp import AiohttpTransport  # noqa: PLC0415 - optional transport

        transport = AiohttpTransport(verify=settings.tls_verify, limits=limits, trust_env=False)
    else:
        transport = httpx.AsyncHTTPTransport(verify=settings.tls_verify, limits=limits)
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(settings.timeout_seconds),
        headers={"User-Agent": f"signal-relay/{__version__}"},
        follow_redirects=False,
    )


class HttpSender:
    """Sends signed POSTs, at most `max_in_flight` at once, through one shared client."""

    def __init__(
        self,
        settings: Settings,
        client: httpx.AsyncClient,
        metrics: RelayMetrics,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._url = settings.ingest_url
        self._endpoint = settings.ingest_path
        self._producer_id = settings.producer_id
        self._secret = settings.secret.reveal()
        self._slots = asyncio.Semaphore(settings.max_in_flight)
        self._metrics = metrics
        self._clock = clock

    async def send(self, signal: CanonicalSignal) -> AttemptResult:
        """POST the signal once, signed at the moment it leaves (after waiting for a slot)."""
        metrics = self._metrics
        async with self._slots:
            at = self._clock()
            headers = self.sign(signal, at)
            metrics.in_flight.inc()
            started = time.perf_counter()
            try:
                response = await self._client.post(self._url, content=signal.body, headers=headers)
            except httpx.HTTPError as exc:
                return self._failed(exc, started, at)
            finally:
                metrics.in_flight.dec()
        duration = time.perf_counter() - started
        metrics.request_duration.observe(duration)
        metrics.http_responses.labels(str(response.status_code)).inc()
        return AttemptResult(
            status=response.status_code,
            headers=response.headers,
            body=response.text[:_MAX_BODY_EXCERPT] if response.status_code != 201 else "",
            duration=duration,
            at=at,
        )

    def sign(self, signal: CanonicalSignal, at: float) -> dict[str, str]:
        """The request headers for `signal`, signed as of epoch second `at`."""
        return signed_headers(
            self._secret,
            signal.body,
            signal_id=signal.signal_id,
            producer_id=self._producer_id,
            endpoint=self._endpoint,
            timestamp=now_timestamp(lambda: at),
        )

    def _failed(self, exc: httpx.HTTPError, started: float, at: float) -> AttemptResult:
        duration = time.perf_counter() - started
        self._metrics.request_duration.observe(duration)
        self._metrics.http_responses.labels("error").inc()
        return AttemptResult(
            status=None, error=f"{type(exc).__name__}: {exc}"[:300], duration=duration, at=at
        )
