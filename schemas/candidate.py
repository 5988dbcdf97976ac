"""The Kafka record's schema: `SignalCandidate` and every rule of docs/PROTOCOL.md §2."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

INSTRUMENT_PATTERN = r"^[A-Z0-9][A-Z0-9._/-]*$"
MAX_DECIMAL_EXPONENT = 64
"""A decimal's leading digit must sit between 10**-64 and 10**63.

A JSON number such as `1e999999999` is short on the wire but would expand to a gigabyte in the
plain notation of the canonical body; no price or confidence comes near this bound.
"""

_ZERO = Decimal(0)  # Decimal constants: comparing a Decimal with an int converts the int each time
_ONE = Decimal(1)
_PLAIN_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
_UUID_TEXT = re.compile(r"[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}")
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)


def _decimal(value: object) -> Decimal:
    """An exact Decimal from a JSON number (already a Decimal), a plain decimal string or an int."""
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        if _PLAIN_DECIMAL.fullmatch(value) is None:
            raise PydanticCustomError(
                "decimal_text", 'must be a decimal in plain notation, like "1.50"'
            )
        number = Decimal(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = Decimal(value)
    else:
        # Floats land here too: they have already lost the publisher's digits.
        raise PydanticCustomError("decimal_type", "must be a number or a decimal string")
    if not number.is_finite():
        raise PydanticCustomError("decimal_finite", "must be finite")
    if not -MAX_DECIMAL_EXPONENT <= number.adjusted() < MAX_DECIMAL_EXPONENT:
        raise PydanticCustomError(
            "decimal_magnitude",
            "must be between 1e-{limit} and 1e{limit} in magnitude",
            {"limit": MAX_DECIMAL_EXPONENT},
        )
    return number


def _positive_decimal(value: object) -> Decimal:
    number = _decimal(value)
    if number <= _ZERO:
        raise PydanticCustomError("decimal_positive", "must be > 0")
    return number


def _unit_decimal(value: object) -> Decimal:
    number = _decimal(value)
    if not _ZERO <= number <= _ONE:
        raise PydanticCustomError("decimal_unit", "must be between 0 and 1")
    return number


def _signal_id(value: object) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        signal_id = value
    elif isinstance(value, str) and _UUID_TEXT.fullmatch(value) is not None:
        signal_id = uuid.UUID(value)
    else:
        raise PydanticCustomError(
            "signal_id", "must be a UUID string like 123e4567-e89b-12d3-a456-426614174000"
        )
    if signal_id.int == 0:
        # A publisher's zero value; as an idempotency key it would merge unrelated signals.
        raise PydanticCustomError("signal_id_nil", "must not be the nil UUID")
    return signal_id


def _utc_datetime(value: object) -> datetime:
    """The UTC datetime of an RFC 3339 string with an offset, or of an aware datetime.

    Naive times are refused. Fractions finer than a microsecond are truncated (Go's
    RFC3339Nano emits nanoseconds).
    """
    if isinstance(value, str) and _RFC3339.fullmatch(value) is not None:
        try:
            moment = datetime.fromisoformat(value.upper())
        except ValueError as exc:
            raise PydanticCustomError(
                "timestamp_value", "is not a valid date and time: {reason}", {"reason": str(exc)}
            ) from exc
    elif isinstance(value, datetime):
        if value.utcoffset() is None:
            raise PydanticCustomError("timestamp_naive", "must carry a UTC offset")
        moment = value
    else:
        raise PydanticCustomError(
            "timestamp_text",
            "must be an RFC 3339 timestamp with an offset, like 2026-11-28T03:00:00Z",
        )
    if moment.tzinfo is UTC:
        return moment
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise PydanticCustomError("timestamp_range", "is out of range in UTC") from exc


def _decimal_json_schema(number: dict[str, Any], string_pattern: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", **number},
                {"type": "string", "pattern": string_pattern},
            ],
            "description": (
                "A decimal: a JSON number (its exact digits are kept) or a string in plain "
                "notation (its exact text is kept); magnitude between "
                f"1e-{MAX_DECIMAL_EXPONENT} and 1e{MAX_DECIMAL_EXPONENT}."
            ),
        }
    )


_PositiveDecimal = Annotated[
    Decimal,
    PlainValidator(_positive_decimal),
    _decimal_json_schema(
        {"exclusiveMinimum": 0}, r"^(?:0\.[0-9]*[1-9][0-9]*|[1-9][0-9]*(?:\.[0-9]+)?)$"
    ),
]
_UnitDecimal = Annotated[
    Decimal,
    PlainValidator(_unit_decimal),
    _decimal_json_schema({"minimum": 0, "maximum": 1}, r"^(?:-?0(?:\.0+)?|0\.[0-9]+|1(?:\.0+)?)$"),
]
_SignalId = Annotated[
    uuid.UUID,
    PlainValidator(_signal_id),
    WithJsonSchema({"type": "string", "format": "uuid", "pattern": f"^{_UUID_TEXT.pattern}$"}),
]
_UtcDatetime = Annotated[
    datetime,
    PlainValidator(_utc_datetime),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": f"^{_RFC3339.pattern}$"}),
]


class SignalCandidate(BaseModel):
    """A trading signal candidate, as published to the Kafka topic (one JSON object per record).

    Optional fields that are absent (or null) stay None. Decimal fields are exact: a JSON
    number keeps its digits, a string keeps its text. generated_at is held in UTC.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    signal_id: _SignalId | None = Field(
        default=None, description="The record's own id; when absent the relay derives one."
    )
    instrument: str = Field(min_length=1, max_length=32, pattern=INSTRUMENT_PATTERN)
    side: Literal["buy", "sell"]
    entry_price: _PositiveDecimal
    stop_loss: _PositiveDecimal | None = Field(
        default=None, description="> 0; for a buy below entry_price, for a sell above it."
    )
    take_profit: _PositiveDecimal | None = Field(
        default=None, description="> 0; for a buy above entry_price, for a sell below it."
    )
    confidence: _UnitDecimal
    strategy: str | None = Field(default=None, max_length=64)
    timeframe: str | None = Field(default=None, max_length=16)
    generated_at: _UtcDatetime | None = None
    note: str | None = Field(default=None, max_length=1000)

    @field_validator("stop_loss")
    @classmethod
    def _stop_loss_on_the_losing_side(
        cls, stop_loss: Decimal | None, info: ValidationInfo
    ) -> Decimal | None:
        # info.data holds only the fields that validated; without both there is nothing to compare.
        side, entry = info.data.get("side"), info.data.get("entry_price")
        if stop_loss is None or side is None or entry is None:
            return stop_loss
        if side == "buy" and stop_loss >= entry:
            raise PydanticCustomError("stop_loss_side", "must be below entry_price for a buy")
        if side == "sell" and stop_loss <= entry:
            raise PydanticCustomError("stop_loss_side", "must be above entry_price for a sell")
        return stop_loss

    @field_validator("take_profit")
    @classmethod
    def _take_profit_on_the_winning_side(
        cls, take_profit: Decimal | None, info: ValidationInfo
    ) -> Decimal | None:
        side, entry = info.data.get("side"), info.data.get("entry_price")
        if take_profit is None or side is None or entry is None:
            return take_profit
        if side == "buy" and take_profit <= entry:
            raise PydanticCustomError("take_profit_side", "must be above entry_price for a buy")
        if side == "sell" and take_profit >= entry:
            raise PydanticCustomError("take_profit_side", "must be below entry_price for a sell")
        return take_profit


def candidate_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a SignalCandidate record, for `signal-relay schema`."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **SignalCandidate.model_json_schema(),
    }
