"""The reference receiver as a raw ASGI 3 application: routing, body limits and injected faults.

What an ingest request is answered is decided in `ingest.py`; this module moves the bytes and
applies the faults in force, in this order: 405 for a method other than POST, 413 for a body
over the limit (unread when Content-Length announces it), the latency, a 503 (`error_rate`),
a 429 (`throttle_rate`), the decision itself (which includes a 503 with `Retry-After` when
the replay cache is full, and a 201 `rejected` by `reject_instruments` or `reject_rate`), and
for an accepted signal a possible drop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from signing.receiver.asgi import (
    ClientDisconnectedError,
    Receive,
    Scope,
    Send,
    declared_length,
    header_map,
    read_body,
    send_reply,
    send_start,
)
from signing.receiver.capture import RequestCapture
from signing.receiver.config import CONTROL_PREFIX, ReceiverConfig
from signing.receiver.control import control_reply
from signing.receiver.errors import DeliberateDropError
from signing.receiver.faults import FaultDice, Faults
from signing.receiver.ingest import IngestPolicy
from signing.receiver.ledger import Ledger
from signing.receiver.replay_window import ReplayWindow
from signing.receiver.replies import Reply, error_reply
from signing.verifier import SignatureVerifier

__all__ = ["ReceiverApp", "create_app"]

_NOT_FOUND: Final = error_reply(404, "not_found", "no such endpoint")
_INGEST_METHOD_NOT_ALLOWED: Final = error_reply(
    405, "method_not_allowed", "only POST is allowed here", headers=((b"allow", b"POST"),)
)
_INJECTED_ERROR: Final = error_reply(503, "injected_error", "the receiver is failing on purpose")


class ReceiverApp:
    """The ASGI callable of the reference receiver, with its state open to control in Python.

    Attributes:
        config: The settings it was built from.
        ledger: What arrived and what was answered (bounded: see `ReceiverConfig`).
        replay_window: The signatures accepted inside their freshness window; when it is full,
            new requests are answered 503 with `Retry-After` (`replay_cache_capacity`).
        verifier: The signature verifier; `verifier.set_secrets` rotates secrets at runtime.
        capture: Where requests are written for `signal-relay verify`, when `capture_dir` is set.
    """

    def __init__(self, config: ReceiverConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.ledger = Ledger(
            capacity=config.ledger_capacity,
            idempotency_capacity=config.idempotency_capacity,
            idempotency_ttl_seconds=config.idempotency_ttl_seconds,
            clock=clock,
        )
        self.replay_window = ReplayWindow(config.replay_cache_capacity)
        self.verifier = SignatureVerifier(
            config.secrets,
            max_age_seconds=config.max_age_seconds,
            max_future_seconds=config.max_future_seconds,
            clock=clock,
            replay_cache=self.replay_window,
        )
        self._ingest = IngestPolicy(
            self.verifier, self.ledger, now=lambda: datetime.fromtimestamp(clock(), UTC)
        )
        self._dice = FaultDice(config.faults)
        self.capture = None if config.capture_dir is None else RequestCapture(config.capture_dir)

    def __repr__(self) -> str:
        return f"ReceiverApp(config={self.config!r})"

    @property
    def faults(self) -> Faults:
        """The faults in force."""
        return self._dice.faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        # One attribute store: every later request sees the new faults and a freshly seeded RNG.
        self._dice = FaultDice(faults)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            path: str = scope["path"]
            try:
                if path == self.config.ingest_path:
                    await self._ingest_request(scope, receive, send)
                elif path.startswith(CONTROL_PREFIX):
                    await self._control_request(scope, receive, send)
                else:
                    await send_reply(send, _NOT_FOUND)
            except ClientDisconnectedError:
                return
        elif kind == "lifespan":
            await _lifespan(receive, send)

    async def _ingest_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await self._answer(send, _INGEST_METHOD_NOT_ALLOWED)
            return
        dice = self._dice
        faults = dice.faults
        headers = header_map(scope["headers"])
        body = await self._bounded_body(headers, receive)
        if body is None:
            await self._answer(send, self._too_large())
            return
        if self.capture is not None:
            self.capture.write(
                method=scope["method"], path=_signed_path(scope), headers=headers, body=body
            )
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if dice.roll(faults.error_rate):
            await self._answer(send, _INJECTED_ERROR)
            return
        if dice.roll(faults.throttle_rate):
            await self._answer(send, _throttled(faults))
            return
        outcome = self._ingest.decide(
            path=_signed_path(scope),
            headers=headers,
            body=body,
            faults=faults,
            reject=dice.roll(faults.reject_rate),
        )
        if outcome.accepted and dice.roll(faults.drop_rate):
            self.ledger.record_drop()
            await send_start(send, outcome.reply)
            raise DeliberateDropError("connection dropped on purpose (drop_rate)")
        await self._answer(send, outcome.reply)

    async def _control_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive, self.config.max_body_size)
        if body is None:
            await send_reply(send, self._too_large())
            return
        reply = control_reply(
            self,
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b""),
            body=body,
        )
        await send_reply(send, reply)

    async def _bounded_body(self, headers: dict[str, str], receive: Receive) -> bytes | None:
        declared = declared_length(headers)
        if declared is not None and declared > self.config.max_body_size:
            return None
        return await read_body(receive, self.config.max_body_size)

    async def _answer(self, send: Send, reply: Reply) -> None:
        # Recorded before it is sent: a client that saw the answer finds it in the ledger.
        self.ledger.record_answer(reply.status)
        await send_reply(send, reply)

    def _too_large(self) -> Reply:
        return error_reply(
            413, "too_large", f"body exceeds the {self.config.max_body_size}-byte limit"
        )


def create_app(config: ReceiverConfig, *, clock: Callable[[], float] = time.time) -> ReceiverApp:
    """Build the reference receiver; `clock` (seconds since the epoch) is for tests."""
    return ReceiverApp(config, clock=clock)


def _signed_path(scope: Scope) -> str:
    # The signature covers the path as sent; ASGI servers may omit raw_path (or send None).
    raw_path: bytes | None = scope.get("raw_path")
    return scope["path"] if raw_path is None else raw_path.decode("latin-1")


def _throttled(faults: Faults) -> Reply:
    return error_reply(
        429,
        "injected_throttle",
        "the receiver is throttling on purpose",
        headers=((b"retry-after", str(faults.retry_after_seconds).encode("ascii")),),
    )


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
