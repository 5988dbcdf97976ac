"""The reference receiver with every ingest request noted in arrival order (replays too)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from relay_harness import SECRET

from signing.receiver import ReceiverApp, ReceiverConfig, create_app, serve_in_thread


@dataclass(frozen=True, slots=True)
class Request:
    """One ingest request as it arrived: its idempotency key, X-Timestamp and arrival time."""

    idempotency_key: str
    timestamp: str
    arrived_at: float


class RequestLog:
    """An ASGI app in front of the receiver that notes each POST before passing it on."""

    def __init__(self, app: ReceiverApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._requests: list[Request] = []

    @property
    def requests(self) -> list[Request]:
        """Every POST so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            with self._lock:
                self._requests.append(
                    Request(
                        headers.get("x-idempotency-key", ""),
                        headers.get("x-timestamp", ""),
                        time.monotonic(),
                    )
                )
        await self.app(scope, receive, send)


@contextlib.contextmanager
def logged_receiver() -> Iterator[tuple[RequestLog, str]]:
    """A fresh receiver accepting the tests' secret behind a `RequestLog`, and its URL."""
    log = RequestLog(create_app(ReceiverConfig(secrets=(SECRET,))))
    with serve_in_thread(log) as url:
        yield log, url
