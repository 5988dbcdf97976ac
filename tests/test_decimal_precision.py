"""Decimals are exact end to end: no float on the way, plain notation in the body."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.record import parse_candidate
from signing.canonical import canonical_body


def _entry_price_in_body(json_value: str) -> str:
    raw = '{"instrument":"X","side":"buy","entry_price":' + json_value + ',"confidence":0.5}'
    entry_price: str = orjson.loads(canonical_body(parse_candidate(raw.encode())).body)[
        "entry_price"
    ]
    return entry_price


@pytest.mark.parametrize(
    "text",
    [
        "123456789.012345",
        "1.00000000000000001",
        "0.30000000000000004",
        "0.1",
        "9007199254740993",
        "12345678901234567890.123456789",
        "0.000000000000000000000000000001",
        "1.50",
        "100.000",
    ],
)
def test_digits_survive_as_json_numbers_and_as_strings(text: str) -> None:
    """15+ significant digits, trailing zeros included, reach the body exactly, either way."""
    assert _entry_price_in_body(text) == text
    assert _entry_price_in_body(f'"{text}"') == text


@pytest.mark.parametrize(
    ("number", "plain"),
    [
        ("1E+2", "100"),
        ("1e2", "100"),
        ("1.5e-5", "0.000015"),
        ("1.50E+1", "15.0"),
        ("100E-2", "1.00"),
        ("1e-7", "0.0000001"),
        ("0.00001", "0.00001"),
        ("1E+63", "1" + "0" * 63),
    ],
)
def test_json_numbers_in_exponent_form_become_plain(number: str, plain: str) -> None:
    """A JSON number with an exponent is written in plain notation, keeping its digits."""
    assert _entry_price_in_body(number) == plain


def test_every_decimal_field_is_a_string_in_the_body() -> None:
    """Prices and confidence are JSON strings in the body, whatever the record used."""
    raw = (
        b'{"instrument":"X","side":"buy","entry_price":2,"stop_loss":1.0,"take_profit":3E0,'
        b'"confidence":1}'
    )
    fields = orjson.loads(canonical_body(parse_candidate(raw)).body)
    assert [fields[name] for name in ("entry_price", "stop_loss", "take_profit", "confidence")] == [
        "2",
        "1.0",
        "3",
        "1",
    ]


def test_integers_and_decimals_parse_as_decimal_never_float() -> None:
    """The parsed values are Decimal with the record's own digits."""
    candidate = parse_candidate(
        b'{"instrument":"X","side":"buy","entry_price":9007199254740993,"confidence":0.10}'
    )
    assert type(candidate.entry_price) is Decimal
    assert candidate.entry_price == Decimal(9007199254740993)
    assert candidate.confidence.as_tuple() == Decimal("0.10").as_tuple()


_plain_texts = st.from_regex(r"(0|[1-9][0-9]{0,40})(\.[0-9]{1,40})?", fullmatch=True).filter(
    lambda text: Decimal(text) > 0
)


@given(_plain_texts, st.booleans())
def test_any_plain_decimal_text_is_kept_exactly(text: str, quoted: bool) -> None:
    """Any plain decimal, as a JSON number or a string, is in the body as the same text."""
    assert _entry_price_in_body(f'"{text}"' if quoted else text) == text


@given(
    st.integers(min_value=1, max_value=10**30),
    st.integers(min_value=-30, max_value=30),
    st.sampled_from(["e", "E", "e+", "E+"]),
)
def test_any_exponent_number_is_exact_in_plain_notation(
    coefficient: int, exponent: int, marker: str
) -> None:
    """A JSON number with any exponent keeps its exact value and is written without one."""
    spelled = f"{coefficient}{marker if exponent >= 0 else 'e'}{exponent}"
    written = _entry_price_in_body(spelled)
    assert Decimal(written) == Decimal(spelled)
    assert "e" not in written.lower()
