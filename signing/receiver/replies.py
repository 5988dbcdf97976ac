"""The receiver's HTTP answers as values: a status, a JSON body and any extra headers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson

__all__ = ["RawHeaders", "Reply", "error_reply", "json_reply"]

RawHeaders = tuple[tuple[bytes, bytes], ...]


@dataclass(frozen=True, slots=True)
class Reply:
    """One complete HTTP answer; Content-Type and Content-Length are added when it is sent.

    Attributes:
        status: The HTTP status code.
        body: The JSON body bytes.
        headers: Extra response headers, as ASGI raw pairs (lower-case names).
    """

    status: int
    body: bytes
    headers: RawHeaders = ()


def json_reply(status: int, payload: object, *, headers: RawHeaders = ()) -> Reply:
    """A reply whose body is `payload` as JSON."""
    return Reply(status, orjson.dumps(payload), headers)


def error_reply(
    status: int,
    error: str,
    message: str,
    *,
    errors: Sequence[str] | None = None,
    headers: RawHeaders = (),
) -> Reply:
    """A failure answer: `{"error": <stable code>, "message": <text>, "errors"?: [...]}`."""
    payload: dict[str, object] = {"error": error, "message": message}
    if errors is not None:
        payload["errors"] = list(errors)
    return json_reply(status, payload, headers=headers)
