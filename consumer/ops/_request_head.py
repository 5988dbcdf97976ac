"""One HTTP/1.x request head, read within hard bounds from a client that may not play fair.

The head is read line by line, and the first bound it crosses refuses it at once, without
reading on: a request line of at most `max_request_line` bytes, header lines of at most
`max_header_bytes` bytes each (line endings not counted), at most `max_header_lines` headers,
and at most `max_request_line + max_header_bytes` bytes in all. h11 then parses the complete
head, so what is not HTTP/1.x is refused the same way. The deadline is the caller's: a read
stops where the caller's timeout cancels it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import h11

from consumer.errors import SignalRelayError

__all__ = ["HeadLimits", "HeadRefused", "RequestHead", "read_head"]


@dataclass(frozen=True, slots=True)
class HeadLimits:
    """The bounds of one request head.

    Attributes:
        max_request_line: Bytes of the request line.
        max_header_bytes: Bytes of one header line.
        max_header_lines: Header lines of one request.
    """

    max_request_line: int
    max_header_bytes: int
    max_header_lines: int

    @property
    def max_head_bytes(self) -> int:
        """Bytes of the whole head, its line endings and blank line included."""
        return self.max_request_line + self.max_header_bytes

    @property
    def stream_limit(self) -> int:
        """The `asyncio.StreamReader` limit that lets the longest admissible line through."""
        return max(self.max_request_line, self.max_header_bytes) + len(b"\r\n")


@dataclass(frozen=True, slots=True)
class RequestHead:
    """What the ops port reads of a request.

    Attributes:
        method: `GET`, `HEAD`, ... as sent.
        path: The request target's path, percent-decoded (origin or absolute form alike).
        accept: The `Accept` header's value (empty when absent).
        http_version: `1.0` or `1.1`, for the answer's status line.
    """

    method: str
    path: str
    accept: str
    http_version: str


class HeadRefused(SignalRelayError):
    """The head crossed a bound, or is not HTTP/1.x: it is answered 400, not served."""


async def read_head(reader: asyncio.StreamReader, limits: HeadLimits) -> RequestHead | None:
    """The request head on `reader`; None when the client left before completing it.

    `reader`'s limit must be `limits.stream_limit`: a line longer than that is refused while
    it is still arriving, so at most about twice that many bytes are ever buffered.
    """
    lines: list[bytes] = []
    size = 0
    while True:
        line = await _line(reader, limits.max_header_bytes if lines else limits.max_request_line)
        if line is None:
            return None
        size += len(line)
        if size > limits.max_head_bytes:
            raise HeadRefused("the head is over its byte budget")
        blank = line in (b"\r\n", b"\n")
        if blank and not lines:
            continue  # RFC 9112 §2.2: empty lines before the request line are ignored
        lines.append(line)
        if blank:
            return _parse(b"".join(lines), limits)
        if len(lines) - 1 > limits.max_header_lines:
            raise HeadRefused("too many header lines")


async def _line(reader: asyncio.StreamReader, limit: int) -> bytes | None:
    """One line with its ending, at most `limit` bytes without it; None at EOF or a reset."""
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError as exc:
        raise HeadRefused("a line is over its limit") from exc
    except (asyncio.IncompleteReadError, OSError):
        return None
    if len(line.rstrip(b"\r\n")) > limit:
        raise HeadRefused("a line is over its limit")
    return line


def _parse(head: bytes, limits: HeadLimits) -> RequestHead:
    connection = h11.Connection(h11.SERVER, max_incomplete_event_size=limits.max_head_bytes)
    connection.receive_data(head)
    try:
        event = connection.next_event()
    except h11.RemoteProtocolError as exc:
        raise HeadRefused(str(exc)) from exc
    if not isinstance(event, h11.Request):  # h11 makes a Request of any complete head it accepts
        raise HeadRefused(f"not a request head: {event!r}")
    return RequestHead(
        method=event.method.decode("ascii"),
        path=unquote(urlsplit(event.target.decode("latin-1")).path),
        accept=", ".join(
            value.decode("latin-1") for name, value in event.headers if name == b"accept"
        ),
        # Answered in the request's version, or the nearest this server speaks (RFC 9110 §6.2).
        http_version="1.0" if event.http_version <= b"1.0" else "1.1",
    )
