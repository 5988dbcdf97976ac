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

__all__ = ["native_candidate", "native_fields"]

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
    # Tried in order, the first that fits wins: text first (the protocol's advice for exact
    # prices), then a JSON number with a fraction or exponent (jiter's Decimal), then an integer.
    text = cs.chain_schema(
        [
            cs.str_schema(strict=True, pattern=_PLAIN_DECIMAL),
            cs.decimal_schema(strict=False, allow_inf_nan=False, **_bounds(upper, inclusive)),
        ]
    )
    return cs.union_schema([text, *_numbers(upper, inclusive)], mode="left_to_right")


def _bounds(upper: Decimal, inclusive: bool) -> dict[str, Any]:
    return {"ge": _LOWEST, "le" if inclusive else "lt": upper}


def _numbers(upper: Decimal, inclusive: bool) -> list[cs.CoreSchema]:
    """A decimal in bounds as a JSON number: jiter's Decimal, or a positive integer."""
    bounds = _bounds(upper, inclusive)
    return [
        cs.decimal_schema(strict=True, allow_inf_nan=False, **bounds),
        cs.chain_schema(
            [cs.int_schema(strict=True, gt=0), cs.decimal_schema(strict=False, **bounds)]
        ),
    ]


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


def _misplaced(side: str, entry: Decimal, stop: Decimal | None, take: Decimal | None) -> bool:
    """Whether stop_loss or take_profit sits on the wrong side of entry_price for `side`."""
    if side == "buy":
        return (stop is not None and stop >= entry) or (take is not None and take <= entry)
    return (stop is not None and stop <= entry) or (take is not None and take >= entry)


def _placed(fields: dict[str, Any]) -> dict[str, Any]:
    """The rules across fields: placement against entry_price; no nil signal_id."""
    entry, stop, take = fields["entry_price"], fields["stop_loss"], fields["take_profit"]
    if _misplaced(fields["side"], entry, stop, take):
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


# The same common path, validated straight into the canonical body's fields (docs/PROTOCOL.md
# §3) for the relay, which needs the body and not the model. Decimals in plain notation keep
# their text, which is already their canonical form, so only the digits are checked here: the
# magnitude rule as patterns (a leading digit at most 63 places left of the point, or a first
# non-zero digit at most 64 places right of it). Optional fields are absent or valid, never null.
_POSITIVE_TEXT = r"^(?:[1-9][0-9]{0,62}(?:\.[0-9]+)?|0\.0{0,63}[1-9][0-9]*)$"
_UNIT_TEXT = r"^(?:0\.0{0,63}[1-9][0-9]*|1(?:\.0+)?)$"


def _decimal_or_text(text_pattern: str, upper: Decimal, *, inclusive: bool) -> cs.CoreSchema:
    """A decimal in [1e-64, upper) (or up to `upper`): its text as given, or a Decimal."""
    text = cs.str_schema(strict=True, pattern=text_pattern)
    numbers = [cs.no_info_after_validator_function(_plain, n) for n in _numbers(upper, inclusive)]
    return cs.union_schema([text, *numbers], mode="left_to_right")


def _plain(number: Decimal) -> str:
    """A JSON number's exact digits in plain notation: 1E+2 -> "100", 1.50 -> "1.50"."""
    return format(number, "f")


def _given(schema: cs.CoreSchema, *, required: bool = False) -> cs.TypedDictField:
    return cs.typed_dict_field(schema, required=required)


_POSITIVE_FIELD = _decimal_or_text(_POSITIVE_TEXT, _BEYOND, inclusive=False)
_FIELDS_VALIDATOR = SchemaValidator(
    cs.typed_dict_schema(
        {
            "signal_id": _given(cs.str_schema(strict=True, pattern=_UUID_TEXT)),
            "instrument": _given(
                cs.str_schema(strict=True, min_length=1, max_length=32, pattern=INSTRUMENT_PATTERN),
                required=True,
            ),
            "side": _given(cs.literal_schema(["buy", "sell"]), required=True),
            "entry_price": _given(_POSITIVE_FIELD, required=True),
            "stop_loss": _given(_POSITIVE_FIELD),
            "take_profit": _given(_POSITIVE_FIELD),
            "confidence": _given(
                _decimal_or_text(_UNIT_TEXT, Decimal(1), inclusive=True), required=True
            ),
            "strategy": _given(cs.str_schema(strict=True, max_length=64)),
            "timeframe": _given(cs.str_schema(strict=True, max_length=16)),
            # Checked as text; read below as the model reads it.
            "generated_at": _given(cs.str_schema(strict=True, pattern=_RFC3339_COMMON)),
            "note": _given(cs.str_schema(strict=True, max_length=1000)),
        },
        extra_behavior="forbid",
    )
)
_NIL_UUID = "00000000-0000-0000-0000-000000000000"
_from_iso = datetime.fromisoformat


def native_fields(document: dict[str, Any]) -> dict[str, Any] | None:
    """The canonical body's fields of `document` on the common path; None to ask the model.

    Decimals as their plain-notation text, `generated_at` as an aware datetime in UTC,
    `signal_id` in lower case when the record has one; absent optional fields stay absent.
    `canonical_body(SignalCandidate.model_validate(document))` writes the same body
    (tests/test_native_candidate.py).
    """
    try:
        fields: dict[str, Any] = _FIELDS_VALIDATOR.validate_python(document)
    except ValidationError:
        return None
    stop, take = fields.get("stop_loss"), fields.get("take_profit")
    if (stop is not None or take is not None) and _misplaced(
        fields["side"],
        Decimal(fields["entry_price"]),
        None if stop is None else Decimal(stop),
        None if take is None else Decimal(take),
    ):
        return None
    moment = fields.get("generated_at")
    if moment is not None:
        try:
            moment = _from_iso(moment)
            if moment.tzinfo is not UTC:  # "Z" already reads as UTC
                moment = moment.astimezone(UTC)
        except (ValueError, OverflowError):  # no such day, or out of range in UTC
            return None
        fields["generated_at"] = moment
    signal_id = fields.get("signal_id")
    if signal_id is not None:
        signal_id = fields["signal_id"] = signal_id.lower()
        if signal_id == _NIL_UUID:
            return None
    return fields
