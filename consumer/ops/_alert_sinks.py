"""Where alerts go: the Telegram Bot API and a generic JSON webhook, behind `AlertSink`.

Sink URLs are credentials (the Telegram token is part of its URL; a webhook URL often holds
one too), and httpx logs every request's URL. So the client addresses a masked URL (`bot***`,
`/***`) and the transport swaps in the real one just before the bytes leave: httpx's request
log and its errors only ever see the mask.

Error tree::

    AlertError
    └── AlertSendError     a sink did not accept an alert
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol
from urllib.parse import quote

import httpx
import orjson

from consumer import __version__
from consumer.config import Secret
from consumer.errors import SignalRelayError
from consumer.ops._alert_model import Alert, FieldValue, alert_text

__all__ = ["AlertError", "AlertSendError", "AlertSink", "TelegramSink", "WebhookSink"]

_MAX_ERROR_EXCERPT = 200
_MASK = "***"


class AlertError(SignalRelayError):
    """Base of the errors of the alert sinks."""


class AlertSendError(AlertError):
    """A sink did not accept an alert; the message never holds a token or a secret URL."""

    def __init__(self, sink: str, problem: str) -> None:
        self.sink = sink
        super().__init__(f"{sink}: {problem}")


class AlertSink(Protocol):
    """Somewhere alerts go."""

    @property
    def name(self) -> str:
        """A short name for logs; never a URL."""
        ...

    async def send(self, alert: Alert) -> None:
        """Deliver `alert`, or raise `AlertSendError`."""
        ...

    async def aclose(self) -> None:
        """Release the sink's connections."""
        ...


class TelegramSink:
    """Telegram Bot API `sendMessage`, as plain text."""

    name = "telegram"

    def __init__(
        self,
        api_url: str,
        token: Secret,
        chat_id: str,
        *,
        producer_id: str,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._token = token.reveal().decode()
        self._chat_id = chat_id
        self._producer_id = producer_id
        self._url = httpx.URL(f"{api_url.rstrip('/')}/bot{_MASK}/sendMessage")
        real = httpx.URL(f"{api_url.rstrip('/')}/bot{self._token}/sendMessage")
        self._client = _masking_client(self._url, real, timeout, transport)

    def __repr__(self) -> str:
        return f"TelegramSink(url={str(self._url)!r}, chat_id={self._chat_id!r})"

    async def send(self, alert: Alert) -> None:
        """POST the alert's text to the chat."""
        payload = {"chat_id": self._chat_id, "text": alert_text(alert, self._producer_id)}
        hide = (self._token, quote(self._token, safe=""))
        await _post_json(self._client, self._url, payload, self.name, hide=hide)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()


class WebhookSink:
    """A generic JSON webhook: `{kind, key, summary, severity, <fields>, producer_id, at}`."""

    name = "webhook"

    def __init__(
        self,
        url: Secret,
        *,
        producer_id: str,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        text = url.reveal().decode()
        real = httpx.URL(text)
        self._url = httpx.URL(scheme=real.scheme, host=real.host, port=real.port, path=f"/{_MASK}")
        secrets = (text, real.path, real.query.decode(), real.password or "")
        self._hide = tuple(text for text in secrets if len(text) > 1)
        self._producer_id = producer_id
        self._client = _masking_client(self._url, real, timeout, transport)
        if real.username:
            self._client.auth = httpx.BasicAuth(real.username, real.password or "")

    def __repr__(self) -> str:
        return f"WebhookSink(url={str(self._url)!r})"

    async def send(self, alert: Alert) -> None:
        """POST the alert as one JSON object."""
        payload: dict[str, FieldValue] = {
            **alert.fields,
            "kind": alert.kind,
            "key": alert.key,
            "summary": alert.summary,
            "severity": alert.severity,
            "producer_id": self._producer_id,
            "at": alert.timestamp,
        }
        await _post_json(self._client, self._url, payload, self.name, hide=self._hide)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()


class _UnmaskingTransport(httpx.AsyncBaseTransport):
    """Sends a request addressed to `masked` to `real` instead."""

    def __init__(self, inner: httpx.AsyncBaseTransport, masked: httpx.URL, real: httpx.URL) -> None:
        self._inner = inner
        self._masked = masked
        self._real = real

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url == self._masked:
            request = httpx.Request(
                request.method,
                self._real,
                headers=request.headers,
                stream=request.stream,
                extensions=request.extensions,
            )
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _masking_client(
    masked: httpx.URL,
    real: httpx.URL,
    timeout: float,
    transport: httpx.AsyncBaseTransport | None,
) -> httpx.AsyncClient:
    inner = transport or httpx.AsyncHTTPTransport()
    return httpx.AsyncClient(
        transport=_UnmaskingTransport(inner, masked, real),
        timeout=timeout,
        headers={"User-Agent": f"signal-relay/{__version__}"},
    )


async def _post_json(
    client: httpx.AsyncClient,
    url: httpx.URL,
    payload: Mapping[str, object],
    sink: str,
    *,
    hide: Iterable[str],
) -> None:
    try:
        response = await client.post(
            url, content=orjson.dumps(payload), headers={"Content-Type": "application/json"}
        )
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise AlertSendError(sink, _redact(f"{type(exc).__name__}: {exc}", hide)) from exc
    if not response.is_success:
        excerpt = response.text[:_MAX_ERROR_EXCERPT]
        raise AlertSendError(sink, _redact(f"HTTP {response.status_code}: {excerpt}", hide))


def _redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
