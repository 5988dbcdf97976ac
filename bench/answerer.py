"""A minimal HTTP/1.1 server: every POST answered 201 at once, counted, and timed if stamped.

`python -m bench.answerer PORT`. The peer of the CPU and latency measures: it takes as little
of the machine as a server can (the clients under test share the cores with it), and answers
every POST the same, so that what differs between two clients is the clients. A POST whose
body carries `"note":"sent=<epoch seconds>"` has its publish-to-arrival time kept, per
signal_id, once (a re-send is not counted); arrival is when the request's first bytes are read.
`GET /_bench` answers `{"posts": n, "latencies": [...]}`; `DELETE /_bench` forgets both.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Coroutine
from typing import Any, TypeVar, cast

import orjson

__all__ = ["SENT", "main", "run", "serve"]

_T = TypeVar("_T")
SENT = "sent="
_STAMPED = b'"note":"' + SENT.encode()
_BODY = b'{"status":"received"}'  # no full SignalIngestResponse: the relay reads a plain 201
_CREATED = b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
_OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
_ANSWER = _CREATED % (len(_BODY), _BODY)


class _State:
    def __init__(self) -> None:
        self.posts = 0
        self.latencies: dict[str, float] = {}

    def answer(self, head: bytes, body: bytes, arrived: float) -> bytes:
        if head.startswith(b"POST "):
            self.posts += 1
            if _STAMPED in body:
                signal = orjson.loads(body)
                sent = float(signal["note"][len(SENT) :])
                self.latencies.setdefault(signal["signal_id"], arrived - sent)
            return _ANSWER
        if head.startswith(b"DELETE "):
            self.posts, self.latencies = 0, {}
        state = orjson.dumps({"posts": self.posts, "latencies": list(self.latencies.values())})
        return _OK % (len(state), state)


class _Connection(asyncio.Protocol):
    """Requests parsed one after another from the connection's bytes (Content-Length bodies)."""

    def __init__(self, state: _State) -> None:
        self._state = state
        self._buffer = b""
        self._arrived = 0.0
        self._transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.WriteTransport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        if not self._buffer:
            self._arrived = time.time()
        self._buffer += data
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            head = self._buffer[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self._buffer) < end + 4 + length:
                return
            body = self._buffer[end + 4 : end + 4 + length]
            self._buffer = self._buffer[end + 4 + length :]
            assert self._transport is not None
            self._transport.write(self._state.answer(head, body, self._arrived))
            self._arrived = time.time()  # bytes already here belong to the next request


async def serve(port: int) -> None:
    """Serve on 127.0.0.1:`port` until cancelled."""
    state = _State()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Connection(state), "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def run(main: Coroutine[Any, Any, _T]) -> _T:
    """Run `main` on uvloop when installed (as `signal-relay run` does), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    result: _T = uvloop.run(main)
    return result


def main(argv: list[str]) -> int:
    """`python -m bench.answerer PORT`."""
    run(serve(int(argv[0])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
