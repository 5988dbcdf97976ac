"""What the ops port answers to a request head: three endpoints, 404/405, and their deadline.

Only GET and HEAD of `/metrics`, `/healthz` and `/readyz` are served, the query ignored; another
path is 404, another method 405 (docs/PROTOCOL.md §12.1). A handler gets `handler_timeout`
seconds (else 504); one that fails is a 500 and the port's only ERROR log line. Metrics are
rendered on a thread of their own, so a scrape never holds the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from typing import Protocol

from consumer.ops._metrics import Exposition
from consumer.ops._request_head import RequestHead

__all__ = ["Answer", "MetricsRenderer", "Routes"]

_log = logging.getLogger("signal_relay.ops")

_TEXT = "text/plain; charset=utf-8"
_METHODS = ("GET", "HEAD")


class MetricsRenderer(Protocol):
    """Renders the metrics in the format an `Accept` header asks for (empty: the default).

    It is called on the ops server's own worker thread, so it may read only thread-safe state
    (prometheus_client's metric values are; so are `_loop_metrics`' families, written by the
    event loop alone and copied before they are written out).
    """

    def __call__(self, accept: str, /) -> Exposition: ...


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer of the port, before it is written out.

    Attributes:
        status: The status code.
        body: The body (not sent to a HEAD request; its length still is).
        content_type: The body's media type.
        allow: The methods served, for a 405.
    """

    status: HTTPStatus
    body: bytes
    content_type: str = _TEXT
    allow: str | None = None

    @classmethod
    def plain(cls, status: HTTPStatus, *, allow: str | None = None) -> Answer:
        """An answer whose body is its status, in words."""
        return cls(status, f"{status.phrase.lower()}\n".encode(), allow=allow)

    def encode(self, http_version: str = "1.0", *, with_body: bool = True) -> bytes:
        """The answer on the wire, in the request's HTTP version, closing the connection."""
        lines = [
            f"HTTP/{http_version} {self.status.value} {self.status.phrase}",
            f"Content-Type: {self.content_type}",
            f"Content-Length: {len(self.body)}",
            "Connection: close",
        ]
        if self.allow is not None:
            lines.append(f"Allow: {self.allow}")
        head = "".join(f"{line}\r\n" for line in lines) + "\r\n"
        return head.encode("latin-1") + (self.body if with_body else b"")


class Routes:
    """The port's three endpoints, each run under the handler deadline."""

    def __init__(
        self,
        *,
        render_metrics: MetricsRenderer,
        readiness: Callable[[], tuple[bool, str]],
        handler_timeout: float,
    ) -> None:
        self._render_metrics = render_metrics
        self._readiness = readiness
        self._handler_timeout = handler_timeout
        self._renderer: ThreadPoolExecutor | None = None
        self._paths: dict[str, Callable[[RequestHead], Awaitable[Answer]]] = {
            "/metrics": self._metrics,
            "/healthz": self._healthz,
            "/readyz": self._readyz,
        }

    async def answer(self, head: RequestHead) -> Answer:
        """The answer to `head`; never raises but for cancellation."""
        handler = self._paths.get(head.path)
        if handler is None:
            return Answer.plain(HTTPStatus.NOT_FOUND)
        if head.method not in _METHODS:
            return Answer.plain(HTTPStatus.METHOD_NOT_ALLOWED, allow=", ".join(_METHODS))
        deadline = asyncio.timeout(self._handler_timeout)
        try:
            async with deadline:
                return await handler(head)
        except Exception:
            if deadline.expired():
                _log.debug("ops_handler_gave_up", extra={"fields": {"path": head.path}})
                return Answer.plain(HTTPStatus.GATEWAY_TIMEOUT)
            _log.error("ops_handler_failed", exc_info=True)
            return Answer.plain(HTTPStatus.INTERNAL_SERVER_ERROR)

    def close(self) -> None:
        """Let the rendering thread go, without waiting for a render still under way."""
        if self._renderer is not None:
            self._renderer.shutdown(wait=False, cancel_futures=True)
            self._renderer = None

    async def _metrics(self, head: RequestHead) -> Answer:
        if self._renderer is None:
            self._renderer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ops-metrics")
        loop = asyncio.get_running_loop()
        exposition = await loop.run_in_executor(self._renderer, self._render_metrics, head.accept)
        return Answer(HTTPStatus.OK, exposition.body, exposition.content_type)

    async def _healthz(self, _: RequestHead) -> Answer:
        return Answer(HTTPStatus.OK, b"ok\n")

    async def _readyz(self, _: RequestHead) -> Answer:
        ready, why = self._readiness()
        if ready:
            return Answer(HTTPStatus.OK, b"ready\n")
        return Answer(HTTPStatus.SERVICE_UNAVAILABLE, f"not ready: {why}\n".encode())
