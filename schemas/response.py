"""The signal server's answer to an ingest request (seed PR-017 `SignalIngestResponse`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict


class SignalIngestResponse(BaseModel):
    """The JSON body of a 201 from the signal server.

    Unknown fields are ignored so that a server may add some without breaking the relay.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    signal_id: str
    status: Literal["received", "pending_approval", "rejected"]
    server_timestamp: datetime
    message: str | None = None
    errors: list[str] | None = None
