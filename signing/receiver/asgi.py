"""The ASGI 3 seam: message types, reading a bounded body, sending one complete reply."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from signing.errors import SigningError
from signing.receiver.replies import Reply

__all__ = [
    "ClientDisconnectedError",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "declared_length",
    "header_map",
    "read_body",
    "send_reply",
    "send_start",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ClientDisconnectedError(SigningError):
    """The client went away before its request body was complete."""


def header_map(raw_headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """Request headers by lower-case name; repeats are joined with ", " as HTTP combines them."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in raw_headers:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def declared_length(headers: dict[str, str]) -> int | None:
    """The Content-Length header as a number; None when absent or not a plain decimal."""
    text = headers.get("content-length")
    if text is None or not text.isdigit() or not text.isascii():
        return None
    return int(text)


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None as soon as it grows past `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnectedError
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        if not message.get("more_body", False):
            if not chunks:
                return chunk
            chunks.append(chunk)
            return b"".join(chunks)
        chunks.append(chunk)


async def send_reply(send: Send, reply: Reply) -> None:
    """Send `reply` as one complete response."""
    await send_start(send, reply)
    await send({"type": "http.response.body", "body": reply.body, "more_body": False})


async def send_start(send: Send, reply: Reply) -> None:
    """Send only the status line and headers of `reply`."""
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(reply.body)).encode("ascii")),
        *reply.headers,
    ]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
