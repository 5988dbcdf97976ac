"""The native validator accepts only what SignalCandidate accepts, and builds the same candidate."""

from __future__ import annotations

import json
from datetime import UTC
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from consumer.service import prepare_signal
from schemas import SchemaViolationError, SignalCandidate, parse_candidate
from schemas._native import native_candidate, native_fields
from schemas.errors import RecordError
from schemas.record import _strict_json, common_fields
from signing.canonical import canonical_body, canonical_fields

_DECIMALS = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=4),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.integers(-(10**66), 10**66),
    st.sampled_from(
        [
            "1.50",
            "0",
            "-0",
            "0.0",
            "-0.0",
            "1",
            "1.0",
            "1.000",
            "0.5",
            "100",
            "1e5",
            " 1",
            "01",
            "1" + "0" * 64,
            "0." + "0" * 64 + "1",
            "0." + "0" * 63 + "1",
            "",
            "NaN",
            "2",
            "0.99",
        ]
    ),
    st.from_regex(r"-?(0|[1-9][0-9]{0,3})(\.[0-9]{1,4})?", fullmatch=True),
    st.sampled_from([True, False, None, 1.5, [], {}]),
)
_TEXT = st.one_of(st.text(max_size=40), st.none(), st.integers(0, 3), st.text(min_size=60))
_INSTRUMENT = st.one_of(
    st.from_regex(r"[A-Z0-9][A-Z0-9._/-]{0,33}", fullmatch=True), _TEXT, st.just("EURUSD\n")
)
_SIGNAL_ID = st.one_of(
    st.uuids().map(str),
    st.uuids().map(lambda u: str(u).upper()),
    st.uuids().map(lambda u: u.hex),
    st.just("00000000-0000-0000-0000-000000000000"),
    st.just("{12345678-1234-1234-1234-123456789abc}"),
    _TEXT,
)
_TIMESTAMP = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(
        [
            "2026-11-28T03:00:00Z",
            "2026-11-28t03:00:00z",
            "2026-11-28T03:00:00.123456789Z",
            "2026-11-28T03:00:60Z",
            "2026-02-30T03:00:00Z",
            "0001-01-01T00:30:00+01:00",
            "9999-12-31T23:30:00-01:00",
            "2026-11-28 03:00:00Z",
            "2026-11-28T03:00:00",
            "2026-11-28T03:00:00.5-00:00",
            "2026-11-28T24:00:00Z",
        ]
    ),
    _TEXT,
)
_ABSENT = object()


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(_ABSENT), st.just(_ABSENT), strategy)


_DOCUMENTS = st.fixed_dictionaries(
    {
        "signal_id": _maybe(_SIGNAL_ID),
        "instrument": _maybe(_INSTRUMENT),
        "side": _maybe(st.sampled_from(["buy", "sell", "BUY", "hold", 1])),
        "entry_price": _maybe(_DECIMALS),
        "stop_loss": _maybe(_DECIMALS),
        "take_profit": _maybe(_DECIMALS),
        "confidence": _maybe(_DECIMALS),
        "strategy": _maybe(_TEXT),
        "timeframe": _maybe(_TEXT),
        "generated_at": _maybe(_TIMESTAMP),
        "note": _maybe(_TEXT),
        "extra": _maybe(st.just(1)),
    }
).map(lambda d: {k: v for k, v in d.items() if v is not _ABSENT})


def _same(native: SignalCandidate, model: SignalCandidate) -> None:
    assert native == model
    assert native.model_fields_set == model.model_fields_set
    assert canonical_body(native) == canonical_body(model)
    for name in SignalCandidate.model_fields:
        assert str(getattr(native, name)) == str(getattr(model, name))
        assert type(getattr(native, name)) is type(getattr(model, name))
    if native.generated_at is not None and model.generated_at is not None:
        assert native.generated_at.tzinfo is model.generated_at.tzinfo


@settings(max_examples=1500, deadline=None)
@given(_DOCUMENTS)
def test_native_accepts_only_what_the_model_accepts(document: dict[str, Any]) -> None:
    """Whatever the native validator accepts, the model accepts and builds alike."""
    native = native_candidate(document)
    if native is None:
        return
    try:
        model = SignalCandidate.model_validate(document)
    except ValidationError as exc:  # pragma: no cover - the failure being tested for
        raise AssertionError(f"native accepted what the model refuses: {exc}") from exc
    _same(native, model)


@settings(max_examples=500, deadline=None)
@given(_DOCUMENTS)
def test_parse_candidate_answers_as_the_stdlib_path(document: dict[str, Any]) -> None:
    """parse_candidate gives what the stdlib decoder and the model give: candidate or error."""
    raw = json.dumps(document, default=str).encode()
    try:
        expected: SignalCandidate | str = SignalCandidate.model_validate(_strict_json(raw.decode()))
    except ValidationError as exc:
        expected = str(SchemaViolationError.from_validation_error(exc))
    try:
        got: SignalCandidate | str = parse_candidate(raw)
    except SchemaViolationError as exc:
        got = str(exc)
    if isinstance(expected, str) or isinstance(got, str):
        assert got == expected
    else:
        _same(got, expected)


@settings(max_examples=1500, deadline=None)
@given(_DOCUMENTS)
def test_native_fields_write_the_body_the_model_writes(document: dict[str, Any]) -> None:
    """Whatever the relay's fast path accepts, the model accepts, with the same canonical body."""
    fields = native_fields(document)
    if fields is None:
        return
    try:
        model = SignalCandidate.model_validate(document)
    except ValidationError as exc:  # pragma: no cover - the failure being tested for
        raise AssertionError(f"native_fields accepted what the model refuses: {exc}") from exc
    generated_at = fields.get("generated_at")
    assert canonical_fields(fields) == canonical_body(model)
    assert generated_at == model.generated_at
    assert generated_at is None or generated_at.tzinfo is UTC


@settings(max_examples=500, deadline=None)
@given(_DOCUMENTS)
def test_prepare_signal_answers_as_the_model_path(document: dict[str, Any]) -> None:
    """The relay's preparation of a value gives the model path's body, or its error."""
    raw = json.dumps(document, default=str).encode()
    try:
        expected: object = canonical_body(parse_candidate(raw))
    except RecordError as exc:
        expected = (type(exc), str(exc))
    try:
        prepared = prepare_signal(raw, 65536)
        got: object = prepared.signal
    except RecordError as exc:
        got = (type(exc), str(exc))
    assert got == expected
    if not isinstance(got, tuple):
        assert prepared.generated_at == parse_candidate(raw).generated_at
        assert prepared.candidate == parse_candidate(raw)


def test_a_common_record_takes_the_relays_fast_path() -> None:
    """A common record, with prices as text and as JSON numbers, skips the model entirely."""
    raw = (
        b'{"signal_id":"123E4567-E89B-12D3-A456-426614174000","instrument":"EUR/USD",'
        b'"side":"sell","entry_price":1.0850,"stop_loss":"1.0900","take_profit":1,'
        b'"confidence":"0.85","generated_at":"2026-11-28T05:00:00.250+02:00","note":"n"}'
    )
    fields = common_fields(raw)
    assert fields is not None
    assert fields["entry_price"] == "1.0850"
    assert fields["signal_id"] == "123e4567-e89b-12d3-a456-426614174000"
    assert canonical_fields(fields) == canonical_body(parse_candidate(raw))


def test_duplicate_keys_and_nan_leave_the_fast_path() -> None:
    """jiter's refusals send a value to the model's path, which names the problem."""
    assert common_fields(b'{"instrument":"X","instrument":"Y"}') is None
    nan = b'{"instrument":"X","side":"buy","entry_price":NaN,"confidence":1}'
    assert common_fields(nan) is None


def test_a_common_record_takes_the_native_path() -> None:
    """A record on the common path is validated natively (else the speed-up is lost)."""
    document = {
        "signal_id": "123e4567-e89b-12d3-a456-426614174000",
        "instrument": "EUR/USD",
        "side": "sell",
        "entry_price": Decimal("1.0850"),
        "stop_loss": "1.0900",
        "take_profit": 1,
        "confidence": "0.85",
        "strategy": "breakout",
        "timeframe": "1h",
        "generated_at": "2026-11-28T05:00:00.250+02:00",
        "note": "n",
    }
    native = native_candidate(document)
    assert native is not None
    _same(native, SignalCandidate.model_validate(document))


def test_negative_zero_keeps_its_sign() -> None:
    """A JSON -0 (jiter reads it as the integer 0) signs as -0, as the stdlib decoder reads it."""
    candidate = parse_candidate(b'{"instrument":"X","side":"buy","entry_price":1,"confidence":-0}')
    assert str(candidate.confidence) == "-0"
