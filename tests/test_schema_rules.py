"""Every rule of docs/PROTOCOL.md §2, each boundary from both sides."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.candidate import SignalCandidate
from schemas.errors import SchemaViolationError

_ABSENT = object()
_VALID: dict[str, Any] = {
    "instrument": "EURUSD",
    "side": "buy",
    "entry_price": Decimal("100"),
    "confidence": Decimal("0.5"),
}


def _problems(**fields: Any) -> tuple[str, ...]:
    """The problems of the valid record with `fields` replaced (or dropped, when _ABSENT)."""
    record = {name: value for name, value in {**_VALID, **fields}.items() if value is not _ABSENT}
    try:
        SignalCandidate.model_validate(record)
    except ValidationError as exc:
        return SchemaViolationError.from_validation_error(exc).problems
    return ()


def test_the_minimal_record_is_valid() -> None:
    """A record with only the four required fields is valid."""
    assert _problems() == ()


@pytest.mark.parametrize("field", ["instrument", "side", "entry_price", "confidence"])
def test_required_fields(field: str) -> None:
    """instrument, side, entry_price and confidence are required."""
    assert _problems(**{field: _ABSENT}) == (f"{field}: required",)


def test_absent_optional_fields_stay_none() -> None:
    """Optional fields that are absent, or null, are None on the model."""
    absent = SignalCandidate.model_validate(_VALID)
    null = SignalCandidate.model_validate(
        {**_VALID, **dict.fromkeys(["signal_id", "stop_loss", "note", "generated_at"])}
    )
    optional = ["signal_id", "stop_loss", "take_profit", "strategy", "timeframe", "generated_at"]
    assert all(getattr(absent, name) is None for name in [*optional, "note"])
    assert null == absent


def test_unknown_fields_are_violations() -> None:
    """A field the schema does not name is a problem of its own."""
    assert _problems(foo=1, Side="buy") == ("foo: unknown field", "Side: unknown field")


def test_the_model_is_frozen() -> None:
    """A validated candidate cannot be changed."""
    candidate = SignalCandidate.model_validate(_VALID)
    with pytest.raises(ValidationError):
        candidate.instrument = "GBPUSD"  # type: ignore[misc]


# instrument


@pytest.mark.parametrize(
    "instrument", ["A", "7", "A" * 32, "EUR/USD", "BTC-USD.P", "ES_Z6", "1INCH"]
)
def test_instrument_accepts(instrument: str) -> None:
    """instrument: 1-32 of A-Z 0-9 . _ / -, starting with a letter or digit."""
    assert _problems(instrument=instrument) == ()


@pytest.mark.parametrize(
    ("instrument", "problem"),
    [
        ("", "must be at least 1 character(s)"),
        ("A" * 33, "must be at most 32 characters"),
        ("eurusd", "must match ^[A-Z0-9][A-Z0-9._/-]*$"),
        ("_EUR", "must match ^[A-Z0-9][A-Z0-9._/-]*$"),
        (".EUR", "must match ^[A-Z0-9][A-Z0-9._/-]*$"),
        ("EUR USD", "must match ^[A-Z0-9][A-Z0-9._/-]*$"),
        ("EURUSD\n", "must match ^[A-Z0-9][A-Z0-9._/-]*$"),
        ("ÉUR", "must match ^[A-Z0-9][A-Z0-9._/-]*$"),
        (5, "must be a string"),
        (None, "must be a string"),
    ],
)
def test_instrument_rejects(instrument: object, problem: str) -> None:
    """instrument outside its length or pattern, or not a string, is a problem."""
    assert _problems(instrument=instrument) == (f"instrument: {problem}",)


# side


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_side_accepts(side: str) -> None:
    """side is "buy" or "sell"."""
    assert _problems(side=side, stop_loss=_ABSENT) == ()


@pytest.mark.parametrize("side", ["BUY", "Sell", "hold", "", None, 1])
def test_side_rejects(side: object) -> None:
    """Any other side, including other casings, is a problem."""
    assert _problems(side=side) == ("side: must be 'buy' or 'sell'",)


# decimals


@pytest.mark.parametrize(
    "price",
    [
        Decimal("0.00000001"),
        Decimal("1E+63"),
        Decimal("1E-64"),
        Decimal("123456789012345.678901234"),
        "0.1",
        "1.50",
        "100",
        7,
    ],
)
def test_entry_price_accepts(price: object) -> None:
    """entry_price is any finite decimal > 0: a JSON number, a plain decimal string or an int."""
    assert _problems(entry_price=price) == ()


@pytest.mark.parametrize(
    ("price", "problem"),
    [
        (Decimal("0"), "must be > 0"),
        (Decimal("-0.00000001"), "must be > 0"),
        ("0.000", "must be > 0"),
        ("-1", "must be > 0"),
        (Decimal("1E+64"), "must be between 1e-64 and 1e64 in magnitude"),
        (Decimal("1E-65"), "must be between 1e-64 and 1e64 in magnitude"),
        (Decimal("NaN"), "must be finite"),
        (Decimal("Infinity"), "must be finite"),
        (Decimal("-Infinity"), "must be finite"),
    ],
)
def test_entry_price_rejects_values(price: object, problem: str) -> None:
    """entry_price <= 0, non-finite or of absurd magnitude is a problem."""
    assert _problems(entry_price=price) == (f"entry_price: {problem}",)


@pytest.mark.parametrize(
    "text",
    [
        "NaN",
        "nan",
        "Infinity",
        "inf",
        "-Infinity",
        "sNaN",
        "",
        " 1.5",
        "1.5 ",
        "1_000",
        "+1",
        ".5",
        "1.",
        "01.5",
        "1e5",
        "1E-3",
        "0x10",
        "1,5",
        "١٢",
    ],
)
def test_decimal_strings_must_be_plain(text: str) -> None:
    """Decimal strings are plain notation: no exponent, "+", spaces, or words like NaN."""
    assert _problems(entry_price=text) == (
        'entry_price: must be a decimal in plain notation, like "1.50"',
    )


@pytest.mark.parametrize("value", [True, False, 1.5, None, [1], {"v": 1}])
def test_decimals_reject_other_types(value: object) -> None:
    """Booleans, floats (already inexact), null, arrays and objects are not decimals."""
    assert _problems(entry_price=value) == ("entry_price: must be a number or a decimal string",)


@pytest.mark.parametrize("confidence", ["0", "0.0", "-0", "1", "1.000", "0.999999", "0.000001"])
def test_confidence_accepts(confidence: str) -> None:
    """confidence is between 0 and 1, both ends included."""
    assert _problems(confidence=confidence) == ()


@pytest.mark.parametrize("confidence", ["-0.000001", "1.000001", "2", "-1"])
def test_confidence_rejects(confidence: str) -> None:
    """confidence below 0 or above 1 is a problem."""
    assert _problems(confidence=confidence) == ("confidence: must be between 0 and 1",)


# stop_loss and take_profit


@pytest.mark.parametrize(
    ("side", "stop_loss"),
    [("buy", "99.99"), ("buy", "0.01"), ("sell", "100.01"), ("sell", "1000000")],
)
def test_stop_loss_accepts(side: str, stop_loss: str) -> None:
    """stop_loss is below the entry for a buy, above it for a sell."""
    assert _problems(side=side, stop_loss=stop_loss) == ()


@pytest.mark.parametrize(
    ("side", "stop_loss", "problem"),
    [
        ("buy", "100", "must be below entry_price for a buy"),
        ("buy", "100.01", "must be below entry_price for a buy"),
        ("sell", "100", "must be above entry_price for a sell"),
        ("sell", "99.99", "must be above entry_price for a sell"),
        ("buy", "0", "must be > 0"),
        ("sell", "-5", "must be > 0"),
    ],
)
def test_stop_loss_rejects(side: str, stop_loss: str, problem: str) -> None:
    """stop_loss at or beyond the entry on the wrong side, or <= 0, is a problem."""
    assert _problems(side=side, stop_loss=stop_loss) == (f"stop_loss: {problem}",)


@pytest.mark.parametrize(
    ("side", "take_profit"),
    [("buy", "100.01"), ("buy", "1000000"), ("sell", "99.99"), ("sell", "0.01")],
)
def test_take_profit_accepts(side: str, take_profit: str) -> None:
    """take_profit is above the entry for a buy, below it for a sell."""
    assert _problems(side=side, take_profit=take_profit) == ()


@pytest.mark.parametrize(
    ("side", "take_profit", "problem"),
    [
        ("buy", "100", "must be above entry_price for a buy"),
        ("buy", "99.99", "must be above entry_price for a buy"),
        ("sell", "100", "must be below entry_price for a sell"),
        ("sell", "100.01", "must be below entry_price for a sell"),
        ("sell", "0", "must be > 0"),
        ("buy", "-101", "must be > 0"),
    ],
)
def test_take_profit_rejects(side: str, take_profit: str, problem: str) -> None:
    """take_profit at or beyond the entry on the wrong side, or <= 0, is a problem."""
    assert _problems(side=side, take_profit=take_profit) == (f"take_profit: {problem}",)


def test_side_rules_are_skipped_when_side_or_entry_is_invalid() -> None:
    """Without a valid side or entry there is nothing to compare; only the real problem shows."""
    assert _problems(side="hold", stop_loss="200") == ("side: must be 'buy' or 'sell'",)
    assert _problems(entry_price="x", take_profit="1") == (
        'entry_price: must be a decimal in plain notation, like "1.50"',
    )


# strings


@pytest.mark.parametrize(("field", "limit"), [("strategy", 64), ("timeframe", 16), ("note", 1000)])
def test_text_length_limits(field: str, limit: int) -> None:
    """strategy, timeframe and note have a maximum length in characters, not bytes."""
    assert _problems(**{field: "é" * limit}) == ()
    assert _problems(**{field: ""}) == ()
    assert _problems(**{field: "x" * (limit + 1)}) == (
        f"{field}: must be at most {limit} characters",
    )


@pytest.mark.parametrize("field", ["strategy", "timeframe", "note"])
def test_text_must_be_a_string_of_valid_unicode(field: str) -> None:
    """Texts must be strings without lone surrogates (a JSON "\\ud800" escape)."""
    assert _problems(**{field: 5}) == (f"{field}: must be a string",)
    assert _problems(**{field: "a\ud800"}) == (
        f"{field}: must be valid Unicode text (no lone surrogates)",
    )


# generated_at


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-11-28T03:00:00Z", datetime(2026, 11, 28, 3, tzinfo=UTC)),
        ("2026-11-28T03:00:00+00:00", datetime(2026, 11, 28, 3, tzinfo=UTC)),
        ("2026-11-28T03:00:00-00:00", datetime(2026, 11, 28, 3, tzinfo=UTC)),
        ("2026-11-28T08:30:00+05:30", datetime(2026, 11, 28, 3, tzinfo=UTC)),
        ("2026-11-27T23:00:00-04:00", datetime(2026, 11, 28, 3, tzinfo=UTC)),
        ("2026-11-28t03:00:00z", datetime(2026, 11, 28, 3, tzinfo=UTC)),
        ("2026-11-28T03:00:00.5Z", datetime(2026, 11, 28, 3, 0, 0, 500000, tzinfo=UTC)),
        ("2026-11-28T03:00:00.123456789Z", datetime(2026, 11, 28, 3, 0, 0, 123456, tzinfo=UTC)),
        ("9999-12-31T23:59:59Z", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_generated_at_accepts_rfc3339_with_offset(text: str, utc: datetime) -> None:
    """generated_at is RFC 3339 with an offset; the model holds it in UTC, sub-microseconds cut."""
    candidate = SignalCandidate.model_validate({**_VALID, "generated_at": text})
    assert candidate.generated_at == utc
    assert candidate.generated_at is not None
    assert candidate.generated_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("2026-11-28T03:00:00", "must be an RFC 3339 timestamp with an offset"),
        ("2026-11-28T03:00:00.123", "must be an RFC 3339 timestamp with an offset"),
        ("2026-11-28", "must be an RFC 3339 timestamp with an offset"),
        ("2026-11-28 03:00:00Z", "must be an RFC 3339 timestamp with an offset"),
        ("2026-11-28T03:00Z", "must be an RFC 3339 timestamp with an offset"),
        ("2026-11-28T03:00:00+0100", "must be an RFC 3339 timestamp with an offset"),
        ("2026-11-28T03:00:00+24:00", "must be an RFC 3339 timestamp with an offset"),
        ("2026-11-28T03:00:00+05:60", "must be an RFC 3339 timestamp with an offset"),
        ("2026-11-28T03:00:00Z\n", "must be an RFC 3339 timestamp with an offset"),
        (1764298800, "must be an RFC 3339 timestamp with an offset"),
        ("2026-02-30T03:00:00Z", "is not a valid date and time"),
        ("2026-11-28T24:00:00Z", "is not a valid date and time"),
        ("2026-11-28T03:00:60Z", "is not a valid date and time"),
        ("0001-01-01T00:00:00+01:00", "is out of range in UTC"),
        (datetime(2026, 11, 28, 3), "must carry a UTC offset"),
    ],
)
def test_generated_at_rejects(value: object, problem: str) -> None:
    """Naive, partial, malformed, impossible or unrepresentable timestamps are problems."""
    (found,) = _problems(generated_at=value)
    assert found.startswith(f"generated_at: {problem}")


def test_generated_at_accepts_an_aware_datetime() -> None:
    """A Python caller may pass an aware datetime; it is normalised to UTC."""
    moment = datetime(2026, 11, 28, 4, tzinfo=timezone(timedelta(hours=1)))
    candidate = SignalCandidate.model_validate({**_VALID, "generated_at": moment})
    assert candidate.generated_at == moment
    assert candidate.generated_at is not None
    assert candidate.generated_at.tzinfo is UTC


# signal_id


@pytest.mark.parametrize(
    "text",
    ["123e4567-e89b-42d3-a456-426614174000", "123E4567-E89B-42D3-A456-426614174000"],
)
def test_signal_id_accepts_hyphenated_uuids(text: str) -> None:
    """signal_id is a hyphenated UUID string, in either case."""
    candidate = SignalCandidate.model_validate({**_VALID, "signal_id": text})
    assert candidate.signal_id == uuid.UUID(text)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("123e4567e89b42d3a456426614174000", "must be a UUID string like"),
        ("{123e4567-e89b-42d3-a456-426614174000}", "must be a UUID string like"),
        ("urn:uuid:123e4567-e89b-42d3-a456-426614174000", "must be a UUID string like"),
        ("123e4567-e89b-42d3-a456-42661417400g", "must be a UUID string like"),
        ("", "must be a UUID string like"),
        (123, "must be a UUID string like"),
        ("00000000-0000-0000-0000-000000000000", "must not be the nil UUID"),
    ],
)
def test_signal_id_rejects(value: object, problem: str) -> None:
    """Other UUID spellings, non-strings and the nil UUID are problems."""
    (found,) = _problems(signal_id=value)
    assert found.startswith(f"signal_id: {problem}")


def test_every_problem_is_reported_at_once() -> None:
    """All problems of a record are listed together, in field order, unknown fields last."""
    assert _problems(
        instrument="eurusd",
        side="long",
        entry_price="0",
        confidence="1.5",
        note=7,
        foo=1,
    ) == (
        "instrument: must match ^[A-Z0-9][A-Z0-9._/-]*$",
        "side: must be 'buy' or 'sell'",
        "entry_price: must be > 0",
        "confidence: must be between 0 and 1",
        "note: must be a string",
        "foo: unknown field",
    )
