"""The server's verdict in a 201: one reading of its body for the relay and for `HmacClient`.

A 201 says the server took the request; its `SignalIngestResponse.status` says what it made of
the signal. `read_verdict` is the only reader of that body: the relay's `classify`
(consumer/service/_outcome.py) and `HmacClient` (`_client_outcome.answer_response`) both call
it, so the same answer is the same verdict on both paths (tests/test_ingest_verdict.py).

| body of the 201                                       | verdict          | outcome   |
|-------------------------------------------------------|------------------|-----------|
| SignalIngestResponse, status `received`               | RECEIVED         | delivered |
| SignalIngestResponse, status `pending_approval`       | PENDING_APPROVAL | delivered |
| SignalIngestResponse, status `rejected`               | REJECTED         | rejected  |
| not JSON, not a SignalIngestResponse (no or unknown   | UNREAD           | delivered |
| status, a field missing), empty, or over 4 KiB        |                  |           |

An unread body leaves the 201 as it stands: the status is the answer, and a server that sends
no (readable) verdict has accepted the signal. The 4 KiB bound is the relay's: it reads at most
that much of any answer, so `HmacClient`, which reads more, judges only what the relay could.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from pydantic import ValidationError

from schemas.response import SignalIngestResponse

__all__ = ["MAX_VERDICT_BYTES", "IngestVerdict", "Verdict", "read_verdict"]

MAX_VERDICT_BYTES: Final = 4096
"""The longest 201 body whose verdict is read (the relay reads no more of any answer)."""
_MAX_EXPLANATION = 500
_MAX_ERRORS = 10


class Verdict(enum.Enum):
    """What the server made of a signal it answered 201."""

    RECEIVED = "received"
    """Accepted."""
    PENDING_APPROVAL = "pending_approval"
    """Accepted, awaiting the server's approval: delivered all the same."""
    REJECTED = "rejected"
    """Refused by the server's own judgement; final: another attempt gets the same verdict."""
    UNREAD = "unread"
    """No readable SignalIngestResponse: the 201 stands, delivered."""

    @property
    def outcome(self) -> str:
        """The name of the outcome: `rejected`, or `delivered` for every other verdict."""
        return "rejected" if self is Verdict.REJECTED else "delivered"


@dataclass(frozen=True, slots=True)
class IngestVerdict:
    """The verdict read from a 201's body, with the response it came from.

    Attributes:
        verdict: what the server made of the signal.
        response: the SignalIngestResponse, None when the body was unread.
    """

    verdict: Verdict
    response: SignalIngestResponse | None = None

    def explanation(self) -> str:
        """The server's message and errors in one line of at most 500 characters (for logs)."""
        if self.response is None:
            return ""
        parts = [self.response.message or ""]
        parts += (self.response.errors or [])[:_MAX_ERRORS]
        return "; ".join(part for part in parts if part)[:_MAX_EXPLANATION]


_UNREAD: Final = IngestVerdict(Verdict.UNREAD)


def read_verdict(body: bytes) -> IngestVerdict:
    """The server's verdict in the body of a 201 (see the module's table)."""
    if not body or len(body) > MAX_VERDICT_BYTES:
        return _UNREAD
    try:
        response = SignalIngestResponse.model_validate_json(body)
    except ValidationError:
        return _UNREAD
    return IngestVerdict(Verdict(response.status), response)
