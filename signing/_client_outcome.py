"""What an HTTP answer to `HmacClient.post_signal` means: a SignalIngestResponse or an error.

The decision table is the relay's (docs/PROTOCOL.md §7, `consumer.service.classify`), so that a
signal posted from a caller's own code and one relayed from Kafka are judged alike
(tests/test_one_delivery_path.py runs every status through both):

| status                  | result                                    | relay's outcome |
|-------------------------|-------------------------------------------|-----------------|
| 201                     | SignalIngestResponse                      | delivered       |
| 201, status `rejected`  | SignalIngestResponse (status `rejected`)  | rejected        |
| 201, body not one       | OutboundResponseError                     | delivered       |
| 409                     | OutboundDuplicateError                    | duplicate       |
| other 2xx               | OutboundClientError                       | terminal        |
| 401, 403, 404, 405, 3xx | OutboundSystemicError                     | systemic        |
| 408, 425, 429, 5xx, 1xx | OutboundRetriableError (`retry_after`)    | retry           |
| other 4xx               | OutboundClientError                       | terminal        |
| no answer               | OutboundTransportError                    | retry           |

A 201's body is read by `signing._ingest_verdict.read_verdict`, the relay's own reader: a body
the relay would not read (over 4 KiB, not a SignalIngestResponse) is an OutboundResponseError,
and a `rejected` one is returned as it is, the verdict `HmacClient` logs as outcome `rejected`.

A 409 raises instead of returning: its body is the server's, not a SignalIngestResponse, and a
caller that must tell "accepted now" from "already there" can. Both mean the signal is on the
server; nothing is to be retried.
"""

from __future__ import annotations

from typing import Final

from schemas.response import SignalIngestResponse
from signing._client_errors import (
    OutboundClientError,
    OutboundDuplicateError,
    OutboundResponseError,
    OutboundRetriableError,
    OutboundSystemicError,
)
from signing._ingest_verdict import MAX_VERDICT_BYTES, read_verdict
from signing._retry_after import parse_retry_after

__all__ = ["answer_response", "parse_retry_after"]

MAX_DETAILS_BYTES: Final = 1024
_RETRYABLE_4XX = frozenset({408, 425, 429})
_SYSTEMIC = frozenset({401, 403, 404, 405})
# An IMF-fixdate is 29 characters; longer texts are not a Retry-After value.


def answer_response(
    status: int, retry_after: str | None, body: bytes, *, signal_id: str
) -> SignalIngestResponse:
    """The SignalIngestResponse of a 201, or raise the OutboundClientError `status` calls for."""
    if status == 201:
        response = read_verdict(body).response
        if response is None:
            raise OutboundResponseError(
                f"201 for signal {signal_id}, but the body is not a SignalIngestResponse"
                f" of at most {MAX_VERDICT_BYTES} bytes",
                http_code=status,
                details=_details(body),
                signal_id=signal_id,
            )
        return response
    raise _error(status, retry_after, body, signal_id)


def _error(
    status: int, retry_after: str | None, body: bytes, signal_id: str
) -> OutboundClientError:
    details = _details(body)
    if status == 409:
        return OutboundDuplicateError(
            f"409: the server already has signal {signal_id}",
            http_code=status,
            details=details,
            signal_id=signal_id,
        )
    if 200 <= status < 300:
        return OutboundClientError(
            f"{status} instead of 201 for signal {signal_id}",
            http_code=status,
            details=details,
            signal_id=signal_id,
        )
    if status in _SYSTEMIC or 300 <= status < 400:
        return OutboundSystemicError(
            f"{status} for signal {signal_id}: check the secret, URL and permissions"
            " (redirects are not followed)",
            http_code=status,
            details=details,
            signal_id=signal_id,
        )
    if status in _RETRYABLE_4XX or status >= 500 or status < 200:
        return OutboundRetriableError(
            f"{status} for signal {signal_id}: retry later",
            http_code=status,
            details=details,
            signal_id=signal_id,
            retry_after=parse_retry_after(retry_after),
        )
    return OutboundClientError(
        f"{status}: the server refused signal {signal_id}",
        http_code=status,
        details=details,
        signal_id=signal_id,
    )


def _details(body: bytes) -> str:
    return body[:MAX_DETAILS_BYTES].decode("utf-8", "replace")
