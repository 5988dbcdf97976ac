"""canonical_body: the exact bytes of docs/PROTOCOL.md §3, and the signal_id they always carry."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest

from schemas.record import parse_candidate
from signing.canonical import SIGNAL_ID_NAMESPACE, CanonicalSignal, canonical_body

_OWN_ID = "123e4567-e89b-42d3-a456-426614174000"
_MINIMAL = b'{"instrument":"EURUSD","side":"buy","entry_price":1.0852,"confidence":0.5}'


def _canonical(raw: bytes) -> CanonicalSignal:
    return canonical_body(parse_candidate(raw))


def _fields(raw: bytes) -> dict[str, Any]:
    fields: dict[str, Any] = orjson.loads(_canonical(raw).body)
    return fields


def test_a_full_record_has_this_exact_body() -> None:
    """Keys sorted, no whitespace, decimals as plain strings, generated_at in UTC with Z."""
    raw = (
        b'{"signal_id":"123E4567-E89B-42D3-A456-426614174000","instrument":"EURUSD",'
        b'"side":"sell","entry_price":1.0852,"stop_loss":"1.0900","take_profit":1.05E0,'
        b'"confidence":1,"strategy":"fib_rsi","timeframe":"H1",'
        b'"generated_at":"2026-11-28T04:00:00.5+01:00","note":"n"}'
    )
    assert _canonical(raw) == CanonicalSignal(
        body=(
            b'{"confidence":"1","entry_price":"1.0852","generated_at":"2026-11-28T03:00:00.500000Z",'
            b'"instrument":"EURUSD","note":"n","side":"sell",'
            b'"signal_id":"123e4567-e89b-42d3-a456-426614174000","stop_loss":"1.0900",'
            b'"strategy":"fib_rsi","take_profit":"1.05","timeframe":"H1"}'
        ),
        signal_id="123e4567-e89b-42d3-a456-426614174000",
    )


def test_absent_and_null_optional_fields_are_omitted() -> None:
    """Optional fields that are absent or null do not appear in the body, not even as null."""
    null = b'{"instrument":"EURUSD","side":"buy","entry_price":1.0852,"confidence":0.5,'
    null += b'"stop_loss":null,"take_profit":null,"strategy":null,"timeframe":null,'
    null += b'"generated_at":null,"note":null,"signal_id":null}'
    assert _canonical(null) == _canonical(_MINIMAL)
    assert sorted(_fields(_MINIMAL)) == [
        "confidence",
        "entry_price",
        "instrument",
        "side",
        "signal_id",
    ]
    assert b"null" not in _canonical(null).body


def test_empty_strings_are_kept() -> None:
    """An empty optional string is present, not absent."""
    raw = _MINIMAL[:-1] + b',"note":"","strategy":""}'
    assert _fields(raw)["note"] == ""
    assert _fields(raw)["strategy"] == ""


def test_non_ascii_is_utf8_without_escapes() -> None:
    """Non-ASCII text is written as UTF-8, never as \\u escapes, whatever the record used."""
    escaped = _MINIMAL[:-1] + b',"note":"caf\\u00e9 \\u2713 \\u65e5\\ud83d\\ude00"}'
    literal = _MINIMAL[:-1] + ',"note":"café ✓ 日😀"}'.encode()
    body = _canonical(escaped).body
    assert body == _canonical(literal).body
    assert '"note":"café ✓ 日😀"'.encode() in body
    assert b"\\u" not in body


def test_control_characters_are_escaped_as_json_requires() -> None:
    """Control characters in text stay escaped, so the body is still one line of valid JSON."""
    body = _canonical(_MINIMAL[:-1] + b',"note":"a\\nb\\u0001"}').body
    assert b'"note":"a\\nb\\u0001"' in body
    assert b"\n" not in body


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28T03:00:00Z", "2026-11-28T03:00:00Z"),
        ("2026-11-28T03:00:00.000000Z", "2026-11-28T03:00:00Z"),
        ("2026-11-28T03:00:00.123456Z", "2026-11-28T03:00:00.123456Z"),
        ("2026-11-28T03:00:00.123Z", "2026-11-28T03:00:00.123000Z"),
        ("2026-11-28T03:00:00.1234567Z", "2026-11-28T03:00:00.123456Z"),
        ("2026-11-28T08:30:00+05:30", "2026-11-28T03:00:00Z"),
        ("2026-11-27T23:00:00.000001-04:00", "2026-11-28T03:00:00.000001Z"),
        ("2027-01-01T00:30:00+01:00", "2026-12-31T23:30:00Z"),
        ("0002-01-01T00:00:00+01:00", "0001-12-31T23:00:00Z"),
    ],
)
def test_generated_at_is_utc_with_z(text: str, expected: str) -> None:
    """generated_at becomes UTC with Z; microseconds appear only when non-zero."""
    raw = _MINIMAL[:-1] + b',"generated_at":"' + text.encode() + b'"}'
    assert _fields(raw)["generated_at"] == expected


def test_the_records_own_signal_id_is_kept() -> None:
    """A record's own signal_id is the body's, in lower-case hyphenated form."""
    canonical = _canonical(_MINIMAL[:-1] + b',"signal_id":"' + _OWN_ID.upper().encode() + b'"}')
    assert canonical.signal_id == _OWN_ID
    assert orjson.loads(canonical.body)["signal_id"] == _OWN_ID


def test_a_derived_signal_id_is_uuid5_of_the_body_without_it() -> None:
    """Without an id of its own, the id is uuid5(SIGNAL_ID_NAMESPACE, body without signal_id)."""
    canonical = _canonical(_MINIMAL)
    fields = orjson.loads(canonical.body)
    assert fields.pop("signal_id") == canonical.signal_id
    without_id = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS).decode()
    assert canonical.signal_id == str(uuid.uuid5(SIGNAL_ID_NAMESPACE, without_id))
    assert uuid.UUID(canonical.signal_id).version == 5


def test_derived_signal_ids_never_change() -> None:
    """The namespace and the canonical form are fixed: this record's id is pinned forever."""
    assert uuid.uuid5(uuid.NAMESPACE_URL, "urn:signal-relay:signal-id") == SIGNAL_ID_NAMESPACE
    assert _canonical(_MINIMAL) == CanonicalSignal(
        body=(
            b'{"confidence":"0.5","entry_price":"1.0852","instrument":"EURUSD","side":"buy",'
            b'"signal_id":"1207396d-11b0-5e1c-8353-e09145660d1e"}'
        ),
        signal_id="1207396d-11b0-5e1c-8353-e09145660d1e",
    )


_BASE = {
    "instrument": '"EURUSD"',
    "side": '"buy"',
    "entry_price": "1.0852",
    "stop_loss": '"1.08"',
    "take_profit": "1.09",
    "confidence": "0.5",
    "strategy": '"fib_rsi"',
    "timeframe": '"H1"',
    "generated_at": '"2026-11-28T03:00:00Z"',
    "note": '"n"',
}


def _record(fields: dict[str, str]) -> bytes:
    return ("{" + ",".join(f'"{name}":{text}' for name, text in fields.items()) + "}").encode()


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("instrument", '"GBPUSD"'),
        ("side", '"sell"'),
        ("entry_price", '"1.0853"'),
        ("entry_price", '"1.08520"'),
        ("stop_loss", None),
        ("stop_loss", '"1.07"'),
        ("take_profit", None),
        ("take_profit", "1.1"),
        ("confidence", "0.51"),
        ("strategy", None),
        ("strategy", '"fib"'),
        ("timeframe", '"H4"'),
        ("generated_at", '"2026-11-28T03:00:00.000001Z"'),
        ("generated_at", None),
        ("note", '"m"'),
        ("note", '""'),
    ],
)
def test_a_derived_signal_id_changes_with_any_field(field: str, text: str | None) -> None:
    """Changing, adding or removing any field (even one digit of text) changes the derived id."""
    changed = {**_BASE, field: text}
    if field == "side":
        changed |= {"stop_loss": '"1.09"', "take_profit": '"1.08"'}
    before = _canonical(_record(_BASE)).signal_id
    after = _canonical(_record({k: v for k, v in changed.items() if v is not None})).signal_id
    assert after != before


def test_canonical_signal_is_an_immutable_value() -> None:
    """CanonicalSignal cannot be changed and has no __dict__."""
    canonical = _canonical(_MINIMAL)
    with pytest.raises(AttributeError):
        canonical.signal_id = "x"  # type: ignore[misc]
    assert not hasattr(canonical, "__dict__")
