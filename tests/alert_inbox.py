"""A real HTTP endpoint on loopback that plays the Telegram Bot API and a generic webhook."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["AlertInbox", "Posted"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Posted:
    """One request the inbox received: its raw path and its decoded JSON body."""

    path: str
    body: dict[str, Any]


class AlertInbox:
    """An ASGI app recording every POST; answers `status` with `reply`, after `release` is set."""

    def __init__(self) -> None:
        self.status = 200
        self.reply = b'{"ok":true}'
        self.release = threading.Event()
        self.release.set()
        self._posts: list[Posted] = []
        self._changed = threading.Condition()

    @property
    def posts(self) -> list[Posted]:
        """Everything received so far."""
        with self._changed:
            return list(self._posts)

    def received(self, path_end: str) -> list[Posted]:
        """The requests whose path ends with `path_end`."""
        return [p for p in self.posts if p.path.endswith(path_end)]

    async def wait_for(self, predicate: Callable[[list[Posted]], bool], within: float) -> None:
        """Wait (off the event loop) until `predicate(posts)` holds, or fail."""

        def wait() -> bool:
            with self._changed:
                return self._changed.wait_for(lambda: predicate(self._posts), within)

        assert await asyncio.to_thread(wait), f"inbox holds only {self.posts}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await asyncio.to_thread(self.release.wait)
        with self._changed:
            self._posts.append(Posted(scope["raw_path"].decode(), orjson.loads(body)))
            self._changed.notify_all()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.reply})
