"""The common valid record, validated by pydantic-core's native constraints alone.

`SignalCandidate` states every rule of docs/PROTOCOL.md §2 with Python validators, which
explain each refusal in the protocol's words. Most records break no rule: for them this
validator builds the same `SignalCandidate` (same field values, same fields set) with native
constraints (patterns, bounds, literals) and one Python check for what spans fields (the
placement of stop_loss and take_profit, the nil signal_id) and UTC conversion.

It accepts a subset of what `SignalCandidate` accepts, never more: whatever it refuses (an
invalid record, or a valid one off the common path: a zero confidence, a lower-case `t` in a
timestamp, nanoseconds) goes to `SignalCandidate.model_validate`, whose errors are the ones
reported. tests/test_native_candidate.py checks both directions on generated records.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic_core import SchemaValidator, ValidationError
from pydantic_core import core_schema as cs

from schemas.candidate import INSTRUMENT_PATTERN, MAX_DECIMAL_EXPONENT, SignalCandidate

__all__ = ["native_candidate"]

# The magnitude rule (leading digit between 10**-64 and 10**63) as bounds on a positive value.
_LOWEST = Decimal(f"1e-{MAX_DECIMAL_EXPONENT}")
_BEYOND = Decimal(f"1e{MAX_DECIMAL_EXPONENT}")
_PLAIN_DECIMAL = r"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?$"
_UUID_TEXT = r"^[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$"
# Narrower than the model's RFC 3339 rule: upper-case T and Z, seconds below 60, at most
# microseconds; anything else takes the model's path.
_RFC3339_COMMON = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)


def _decimal(upper: Decimal, *, inclusive: bool) -> cs.CoreSchema:
    """A decimal in [1e-64, upper) (or up to `upper` inclusive): a Decimal, int or plain text."""
    bounds: dict[str, Any] = {"ge": _LOWEST, "le" if inclusive else "lt": upper}
    # Tried in order, the first that fits wins: text first (the protocol's advice for exact
    # prices), then a JSON number with a fraction or exponent (jiter's Decimal), then an integer.
    return cs.union_schema(
        [
            cs.chain_schema(
                [
                    cs.str_schema(strict=True, pattern=_PLAIN_DECIMAL),
                    cs.decimal_schema(strict=False, allow_inf_nan=False, **bounds),
                ]
            ),
            cs.decimal_schema(strict=True, allow_inf_nan=False, **bounds),
            cs.chain_schema(
                [cs.int_schema(strict=True, gt=0), cs.decimal_schema(strict=False, **bounds)]
            ),
        ],
        mode="left_to_right",
    )


def _utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("out of range in UTC") from exc


def _optional(schema: cs.CoreSchema) -> cs.CoreSchema:
    return cs.with_default_schema(cs.nullable_schema(schema), default=None)


def _optional_text(max_length: int) -> cs.CoreSchema:
    return _optional(cs.str_schema(strict=True, max_length=max_length))


def _field(schema: cs.CoreSchema) -> cs.ModelField:
    return cs.model_field(schema)


def _placed(fields: dict[str, Any]) -> dict[str, Any]:
    """The rules across fields: placement against entry_price; no nil signal_id."""
    entry, stop, take = fields["entry_price"], fields["stop_loss"], fields["take_profit"]
    if fields["side"] == "buy":
        if (stop is not None and stop >= entry) or (take is not None and take <= entry):
            raise ValueError("placement")
    elif (stop is not None and stop <= entry) or (take is not None and take >= entry):
        raise ValueError("placement")
    signal_id = fields["signal_id"]
    if signal_id is not None and signal_id.int == 0:
        raise ValueError("nil signal_id")
    return fields


_POSITIVE = _decimal(_BEYOND, inclusive=False)
_FIELDS = {
    "signal_id": _field(
        _optional(
            cs.chain_schema([cs.str_schema(strict=True, pattern=_UUID_TEXT), cs.uuid_schema()])
        )
    ),
    "instrument": _field(
        cs.str_schema(strict=True, min_length=1, max_length=32, pattern=INSTRUMENT_PATTERN)
    ),
    "side": _field(cs.literal_schema(["buy", "sell"])),
    "entry_price": _field(_POSITIVE),
    "stop_loss": _field(_optional(_POSITIVE)),
    "take_profit": _field(_optional(_POSITIVE)),
    "confidence": _field(_decimal(Decimal(1), inclusive=True)),
    "strategy": _field(_optional_text(64)),
    "timeframe": _field(_optional_text(16)),
    "generated_at": _field(
        _optional(
            cs.chain_schema(
                [
                    cs.str_schema(strict=True, pattern=_RFC3339_COMMON),
                    cs.no_info_after_validator_function(_utc, cs.datetime_schema()),
                ]
            )
        )
    ),
    "note": _field(_optional_text(1000)),
}
if _FIELDS.keys() != SignalCandidate.model_fields.keys():  # pragma: no cover - a schema edit
    raise AssertionError("schemas._native lists other fields than SignalCandidate")

# Fields only: given SignalCandidate as its class, a model schema runs the model's own validator.
_VALIDATOR = SchemaValidator(cs.model_fields_schema(_FIELDS, extra_behavior="forbid"))
_new = object.__new__
_set = object.__setattr__


def native_candidate(document: dict[str, Any]) -> SignalCandidate | None:
    """The candidate of `document` when it is on the common path; None to ask the model."""
    try:
        fields, _, fields_set = _VALIDATOR.validate_python(document)
        _placed(fields)
    except (ValidationError, ValueError):
        return None
    # What pydantic-core does for a model: the validated fields as the instance's __dict__.
    candidate: SignalCandidate = _new(SignalCandidate)
    _set(candidate, "__dict__", fields)
    _set(candidate, "__pydantic_fields_set__", fields_set)
    _set(candidate, "__pydantic_extra__", None)
    _set(candidate, "__pydantic_private__", None)
    return candidate
