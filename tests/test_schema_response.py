"""SignalIngestResponse: the server's 201 body, read strictly where it matters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from schemas.response import SignalIngestResponse


def test_a_server_answer_parses() -> None:
    """The seed's fields parse, optional ones default to None."""
    response = SignalIngestResponse.model_validate_json(
        b'{"signal_id":"s-1","status":"pending_approval","server_timestamp":"2026-11-28T03:00:00Z"}'
    )
    assert response.signal_id == "s-1"
    assert response.status == "pending_approval"
    assert response.server_timestamp == datetime(2026, 11, 28, 3, tzinfo=UTC)
    assert (response.message, response.errors) == (None, None)


@pytest.mark.parametrize("status", ["received", "pending_approval", "rejected"])
def test_each_documented_status_is_accepted(status: str) -> None:
    """received, pending_approval and rejected are the statuses."""
    response = SignalIngestResponse(
        signal_id="s", status=status, server_timestamp=datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert response.status == status


def test_an_unknown_status_is_refused() -> None:
    """Any other status is a validation error."""
    with pytest.raises(ValidationError):
        SignalIngestResponse.model_validate(
            {"signal_id": "s", "status": "accepted", "server_timestamp": "2026-11-28T03:00:00Z"}
        )


def test_extra_fields_from_a_newer_server_are_ignored() -> None:
    """A field the relay does not know does not break reading the answer."""
    response = SignalIngestResponse.model_validate(
        {
            "signal_id": "s",
            "status": "received",
            "server_timestamp": "2026-11-28T03:00:00Z",
            "errors": ["late"],
            "queue_position": 3,
        }
    )
    assert response.errors == ["late"]
    assert not hasattr(response, "queue_position")


def test_it_serialises_to_the_contract_shape() -> None:
    """The receiver writes the response as JSON with a UTC timestamp ending in Z."""
    response = SignalIngestResponse(
        signal_id="s",
        status="received",
        server_timestamp=datetime(2026, 11, 28, 3, tzinfo=UTC),
        message="ok",
    )
    assert response.model_dump_json(exclude_none=True) == (
        '{"signal_id":"s","status":"received","server_timestamp":"2026-11-28T03:00:00Z",'
        '"message":"ok"}'
    )
