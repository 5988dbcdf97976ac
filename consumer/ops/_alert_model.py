"""What an operator alert is, and how it reads as text.

An `Alert` is a frozen value: kind, key, one-line summary, severity, flat fields and the time
it was raised. `alert_text` is its plain-text form (Telegram's; a webhook sends the fields).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from signing.timestamps import format_timestamp

__all__ = ["Alert", "Severity", "alert_text"]

Severity = Literal["critical", "warning", "info"]
FieldValue = str | int | float | None

_TELEGRAM_MAX_TEXT = 4096


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert for the operator.

    Attributes:
        kind: what happened: `systemic_failure`, `systemic_resolved`, `key_failing`,
            `dlq_stalled`, `secret_refused` or `codec_missing`.
        key: what it is about within its kind; rate limits apply per (kind, key).
        summary: one line for a human.
        severity: `critical`, `warning` or `info`.
        fields: details, name -> value, flat (a webhook payload carries them at its top level).
        at: epoch seconds when the alert was raised.
    """

    kind: str
    key: str
    summary: str
    severity: Severity
    fields: Mapping[str, FieldValue]
    at: float

    @property
    def timestamp(self) -> str:
        """`at` as an RFC 3339 UTC timestamp."""
        return format_timestamp(datetime.fromtimestamp(self.at, UTC))


def alert_text(alert: Alert, producer_id: str) -> str:
    """The plain-text message of an alert (Telegram's length limit applied)."""
    lines = [
        f"[{alert.severity.upper()}] signal-relay {producer_id}: {alert.kind}",
        alert.summary,
        *(f"{name}: {value}" for name, value in alert.fields.items() if value is not None),
        f"at: {alert.timestamp}",
    ]
    return "\n".join(lines)[:_TELEGRAM_MAX_TEXT]
