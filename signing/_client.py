"""`HmacClient`: post one signal from your own code, signed exactly as the relay signs it.

The seed's client (PR-017), on the relay's delivery path: the signal is validated by the
relay's parser (`schemas.parse_candidate`), made canonical by `signing.canonical_body`, signed
by the relay's `RequestSigner` and judged by the relay's decision table (`_client_outcome`).
A signal posted here and the same signal relayed from Kafka at the same instant are the same
request, byte for byte (tests/test_one_delivery_path.py).

Built on `httpx.AsyncClient`; any httpx transport can be given. Whatever the server sends, an
answer costs bounded memory and time: redirects are never followed (a 3xx is an
OutboundSystemicError), at most 64 KiB of a body is read, undecoded, and the whole exchange
ends by the timeout. Cookies are never stored or sent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from http.cookiejar import CookieJar, DefaultCookiePolicy
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from typing import Final, Self

import httpx
import orjson

from schemas.candidate import SignalCandidate
from schemas.errors import RecordError
from schemas.record import parse_candidate
from schemas.response import SignalIngestResponse
from signing._client_errors import (
    OutboundClientError,
    OutboundDisabledError,
    OutboundError,
    OutboundIdempotencyKeyError,
    OutboundSignalError,
    OutboundSignatureError,
    OutboundSystemicError,
    OutboundTransportError,
)
from signing._client_outcome import answer_response
from signing._ingest_verdict import IngestVerdict, Verdict
from signing._outbound_config import OutboundConfig
from signing._profile import build_signer
from signing._tls import handshake_refusal, tls_refusal
from signing.canonical import CanonicalSignal, canonical_body
from signing.errors import SigningInputError

__all__ = ["HmacClient"]

try:
    _VERSION = version("signal-relay")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    _VERSION = "0.0.0"

USER_AGENT: Final = f"signal-relay/{_VERSION}"
"""The User-Agent of every request, the relay's own."""

_MAX_ANSWER_BYTES = 64 * 1024
# What "no answer arrived" looks like: connect/read errors, broken-off bodies, the deadline.
_TRANSPORT_ERRORS = (httpx.HTTPError, TimeoutError, OSError)

Signal = SignalCandidate | Mapping[str, object] | bytes
"""What `post_signal` takes: a candidate, a mapping of its fields, or its JSON bytes."""


class HmacClient:
    """Posts signals to the signal server, signed with HMAC-SHA256 (seed PR-017's client).

    Use it as `async with HmacClient(config) as client:`, or call `close()` when done. One
    client keeps one connection pool; it is safe to post concurrently from one event loop.
    `transport` is any httpx transport (default: httpx's own, honouring HTTPS_PROXY and
    NO_PROXY as httpx does, with `config.ssl_context()`: its CA and client certificate; a
    transport given brings its own TLS); `clock` gives the signing time in epoch seconds.
    """

    __slots__ = ("_client", "_clock", "_config", "_log", "_signer", "_tls")

    def __init__(
        self,
        config: OutboundConfig,
        logger: logging.Logger | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(config, OutboundConfig):
            raise TypeError(f"config must be an OutboundConfig, not {type(config).__name__}")
        try:
            self._signer = build_signer(
                config.signing_profile,
                config.producer_secret,
                producer_id=config.producer_id,
                endpoint=config.ingest_path,
            )
        except SigningInputError as exc:
            raise OutboundSignatureError(f"cannot sign as configured: {exc}") from exc
        self._config = config
        self._log = logger if logger is not None else logging.getLogger("signal_relay.client")
        self._clock = clock
        tls = config.ssl_context()
        # Only httpx's own transport takes this context; a transport given brings its own TLS.
        self._tls = tls if transport is None and config.ingest_url.startswith("https:") else None
        self._client = httpx.AsyncClient(
            transport=transport,
            verify=tls,
            timeout=httpx.Timeout(config.timeout_seconds),
            follow_redirects=False,
            # identity: the body is read as sent, so its size is the size read.
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        )

    def __repr__(self) -> str:
        return f"HmacClient({self._config!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection pool; the client posts nothing afterwards."""
        await self._client.aclose()

    async def post_signal(
        self,
        signal: Signal,
        idempotency_key: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the seed's signature
    ) -> SignalIngestResponse:
        """Validate, sign and POST one signal; the server's SignalIngestResponse for its 201.

        A 201 whose status is `rejected` is returned too: the server refused the signal (the
        relay's outcome `rejected`, logged so); retrying it gets the same verdict back.

        `idempotency_key`, when given, must be the canonical body's signal_id (the signal's own,
        or the one derived from its content); a different key raises
        OutboundIdempotencyKeyError and nothing is sent. `timeout` bounds the whole exchange in
        seconds (default: the config's). Raises an OutboundError: see `_client_errors` for the
        tree and `_client_outcome` for which answer raises what.
        """
        seconds = self._timeout(timeout)
        signal_out = self.canonical(signal)
        if idempotency_key is not None and idempotency_key != signal_out.signal_id:
            raise OutboundIdempotencyKeyError(
                f"idempotency_key {str(idempotency_key)[:64]!r} differs from the body's"
                f" signal_id {signal_out.signal_id}; omit it, or put it in the signal's signal_id"
            )
        headers = self._sign(signal_out)
        if not self._config.enabled:
            self._log.info("signal_dry_run", extra={"fields": self._fields(signal_out)})
            raise OutboundDisabledError(
                f"signal {signal_out.signal_id} signed but not sent: HMAC_PRODUCER_ENABLED is false"
            )
        started = time.perf_counter()
        try:
            response = await self._deliver(signal_out, headers, seconds)
        except OutboundClientError as exc:
            fields = self._fields(signal_out, started, exc.http_code, exc.outcome)
            self._log.warning("signal_posted", extra={"fields": fields})
            raise
        # The relay's verdict for the same answer (signing/_ingest_verdict.py): a 201 the
        # server rejected is no delivery, though it is returned like one.
        verdict = Verdict(response.status)
        fields = self._fields(signal_out, started, 201, verdict.outcome)
        if verdict is Verdict.REJECTED:
            fields["server_said"] = IngestVerdict(verdict, response).explanation()
            self._log.warning("signal_posted", extra={"fields": fields})
        else:
            self._log.info("signal_posted", extra={"fields": fields})
        return response

    def canonical(self, signal: Signal) -> CanonicalSignal:
        """The canonical body and signal_id `signal` is sent as; OutboundSignalError if invalid.

        The relay's rule (`prepare_signal`): it parses and validates, and its canonical body
        fits `max_body_size`.
        """
        limit = self._config.max_body_size
        try:
            candidate = _candidate(signal, limit)
        except RecordError as exc:
            raise OutboundSignalError(f"invalid signal: {exc}") from exc
        signal_out = canonical_body(candidate)
        if len(signal_out.body) > limit:
            raise OutboundSignalError(
                f"canonical body is {len(signal_out.body)} bytes, over the {limit}-byte limit"
            )
        return signal_out

    def _timeout(self, timeout: float | None) -> float:
        if timeout is None:
            return self._config.timeout_seconds
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
            raise OutboundError(f"timeout must be a positive number of seconds; got {timeout!r}")
        return min(float(timeout), 86_400.0)

    def _sign(self, signal_out: CanonicalSignal) -> dict[str, str]:
        try:
            return self._signer.headers(
                signal_out.body, signal_id=signal_out.signal_id, at=self._clock()
            )
        except SigningInputError as exc:
            raise OutboundSignatureError(
                f"cannot sign signal {signal_out.signal_id}: {exc}"
            ) from exc

    async def _deliver(
        self, signal_out: CanonicalSignal, headers: Mapping[str, str], seconds: float
    ) -> SignalIngestResponse:
        """POST once and judge the answer (`answer_response`); no answer is a transport error."""
        try:
            status, retry_after, body = await self._exchange(signal_out.body, headers, seconds)
        except _TRANSPORT_ERRORS as exc:
            await self._raise_tls_refusal(exc, signal_out.signal_id)
            raise OutboundTransportError(
                f"no answer for signal {signal_out.signal_id}: {type(exc).__name__}",
                http_code=None,
                details=f"{type(exc).__name__}: {exc}"[:300],
                signal_id=signal_out.signal_id,
            ) from exc
        return answer_response(status, retry_after, body, signal_id=signal_out.signal_id)

    async def _raise_tls_refusal(self, exc: BaseException, signal_id: str) -> None:
        """Raise `OutboundSystemicError` when TLS refused the connection (mutual TLS, trust).

        The server may have refused our certificate (none, or one it does not trust), or we its;
        retrying will not help. httpx may lose the server's alert, so a dropped connection to
        an https server is asked again with a bare handshake.
        """
        refusal = tls_refusal(exc)
        if refusal is None and self._tls is not None and not isinstance(exc, TimeoutError):
            refusal = await handshake_refusal(self._config.ingest_url, self._tls)
        if refusal is not None:
            raise OutboundSystemicError(
                f"TLS refused the connection for signal {signal_id}: {refusal} (check the"
                " client certificate OUTBOUND_TLS_CERT_FILE and the CA OUTBOUND_TLS_CA_FILE)",
                http_code=None,
                details=refusal,
                signal_id=signal_id,
            ) from exc

    def _fields(
        self,
        signal_out: CanonicalSignal,
        started: float | None = None,
        http_code: int | None = None,
        outcome: str | None = None,
    ) -> dict[str, object]:
        """A log event's context (`extra={"fields": ...}`, as the relay's logs take it)."""
        fields: dict[str, object] = {
            "producer_id": self._config.producer_id,
            "signal_id": signal_out.signal_id,
        }
        if started is not None:
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            fields |= {"outcome": outcome, "http_code": http_code, "duration_ms": duration_ms}
        return fields

    async def _exchange(
        self, body: bytes, headers: Mapping[str, str], seconds: float
    ) -> tuple[int, str | None, bytes]:
        """POST once: the status, the Retry-After text and at most 64 KiB of the body.

        A body still arriving at the deadline is cut where it is and the status stands, as in
        the relay; a body that breaks off is a transport error.
        """
        if self._client.is_closed:
            raise OutboundError("the client is closed")
        deadline = asyncio.get_running_loop().time() + seconds
        request = self._client.build_request(
            "POST", self._config.ingest_url, content=body, headers=headers, timeout=seconds
        )
        async with asyncio.timeout_at(deadline):
            response = await self._client.send(request, stream=True, follow_redirects=False)
        if response.is_stream_consumed:  # a transport that answered with bytes in memory
            content = response.content[: _MAX_ANSWER_BYTES + 1]
            return response.status_code, response.headers.get("retry-after"), content
        raw = bytearray()
        try:
            async with asyncio.timeout_at(deadline):
                # aiter_raw: the bytes as sent, never decompressed.
                async for chunk in response.aiter_raw():
                    raw += chunk
                    if len(raw) > _MAX_ANSWER_BYTES:
                        break
        except TimeoutError:
            pass
        finally:
            # Closing a response that was not read to its end closes its connection.
            await response.aclose()
        return response.status_code, response.headers.get("retry-after"), bytes(raw)


def _candidate(signal: Signal, limit: int) -> SignalCandidate:
    """`signal` validated as the relay validates a record value."""
    if isinstance(signal, SignalCandidate):
        return signal
    if isinstance(signal, bytes | bytearray | memoryview):
        return parse_candidate(bytes(signal), max_size=limit)
    if isinstance(signal, Mapping):
        try:
            raw = orjson.dumps(dict(signal), default=_json_number)
        except orjson.JSONEncodeError as exc:
            raise OutboundSignalError(f"invalid signal: not JSON-serialisable: {exc}") from exc
        return parse_candidate(raw, max_size=limit)
    raise OutboundSignalError(
        "signal must be a SignalCandidate, a mapping of its fields, or its JSON bytes;"
        f" got {type(signal).__name__}"
    )


def _json_number(value: object) -> orjson.Fragment:
    """A Decimal written as the JSON number of its exact digits (orjson writes no Decimal)."""
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value))
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")
