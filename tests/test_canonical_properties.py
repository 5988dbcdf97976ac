"""Properties of the canonical body over generated records: one signal, one body, one id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from schemas.record import parse_candidate
from signing.canonical import SIGNAL_ID_NAMESPACE, canonical_body

_DECIMAL_FIELDS = ("entry_price", "stop_loss", "take_profit", "confidence")
_TEXT_LIMITS = {"strategy": 64, "timeframe": 16, "note": 1000}


def _plain(number: Decimal) -> str:
    return format(number, "f")


_prices = st.decimals(
    min_value=Decimal("0.00000001"), max_value=Decimal("1e12"), allow_nan=False, places=None
).map(_plain)
_confidences = st.decimals(min_value=0, max_value=1, allow_nan=False).map(_plain)
_texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=16)
_moments = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.just(UTC),
)
_signal_ids = st.uuids().filter(lambda signal_id: signal_id.int != 0)


@st.composite
def _records(draw: st.DrawFn) -> dict[str, Any]:
    """A valid record's logical fields: decimals as plain text, generated_at as a UTC datetime."""
    prices = draw(st.lists(_prices, min_size=3, max_size=3, unique_by=Decimal))
    low, mid, high = sorted(prices, key=Decimal)
    side = draw(st.sampled_from(["buy", "sell"]))
    stop_loss, take_profit = (low, high) if side == "buy" else (high, low)
    record: dict[str, Any] = {
        "instrument": draw(st.from_regex(r"[A-Z0-9][A-Z0-9._/-]{0,31}", fullmatch=True)),
        "side": side,
        "entry_price": mid,
        "confidence": draw(_confidences),
    }
    optional = {
        "signal_id": _signal_ids,
        "stop_loss": st.just(stop_loss),
        "take_profit": st.just(take_profit),
        "strategy": _texts,
        "timeframe": _texts,
        "generated_at": _moments,
        "note": _texts,
    }
    for name, values in optional.items():
        if draw(st.booleans()):
            record[name] = draw(values)
    return record


@st.composite
def _spellings(draw: st.DrawFn, record: dict[str, Any]) -> bytes:
    """One of the many JSON texts of `record`: any key order, whitespace and value spelling."""
    space = st.sampled_from(["", " ", "\n", "\t", "\r\n  "])
    members = []
    for name in draw(st.permutations(list(record))):
        members.append(
            f"{json.dumps(name)}{draw(space)}:{draw(space)}{_spell(draw, name, record[name])}"
        )
    inside = ("," + draw(space)).join(members)
    return f"{draw(space)}{{{draw(space)}{inside}{draw(space)}}}{draw(space)}".encode()


def _spell(draw: st.DrawFn, name: str, value: Any) -> str:
    if name in _DECIMAL_FIELDS:
        return value if draw(st.booleans()) else f'"{value}"'
    if name == "generated_at":
        minutes = draw(st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59))
        local: datetime = value.astimezone(timezone(timedelta(minutes=minutes)))
        return f'"{local.isoformat()}"'
    if name == "signal_id":
        return f'"{str(value).upper()}"' if draw(st.booleans()) else f'"{value}"'
    return json.dumps(value, ensure_ascii=draw(st.booleans()))


def _expected_fields(record: dict[str, Any]) -> dict[str, str]:
    """The body's fields, as the contract states them, written out independently of the code."""
    fields = {name: value for name, value in record.items() if name != "signal_id"}
    if "generated_at" in fields:
        moment: datetime = fields["generated_at"]
        fields["generated_at"] = moment.replace(tzinfo=None).isoformat() + "Z"
    return fields


@given(st.data())
def test_the_body_does_not_depend_on_spelling(data: st.DataObject) -> None:
    """Key order, whitespace, escapes, offsets and number-or-string spellings give one body."""
    record = data.draw(_records())
    first = canonical_body(parse_candidate(data.draw(_spellings(record))))
    second = canonical_body(parse_candidate(data.draw(_spellings(record))))
    assert first == second


@given(st.data())
def test_the_body_is_the_record_in_canonical_form(data: st.DataObject) -> None:
    """The body is sorted and compact, holds each field's exact text, and the signal_id."""
    record = data.draw(_records())
    canonical = canonical_body(parse_candidate(data.draw(_spellings(record))))
    expected = _expected_fields(record)
    without_id = orjson.dumps(expected, option=orjson.OPT_SORT_KEYS)
    if "signal_id" in record:
        assert canonical.signal_id == str(record["signal_id"])
    else:
        assert canonical.signal_id == str(uuid.uuid5(SIGNAL_ID_NAMESPACE, without_id.decode()))
    assert canonical.body == orjson.dumps(
        {**expected, "signal_id": canonical.signal_id}, option=orjson.OPT_SORT_KEYS
    )


@given(_records(), _signal_ids)
def test_a_records_own_signal_id_is_kept(record: dict[str, Any], signal_id: uuid.UUID) -> None:
    """Whatever else the record holds, its own signal_id is the body's and the idempotency key."""
    record["signal_id"] = signal_id
    canonical = canonical_body(parse_candidate(_plain_json(record)))
    assert canonical.signal_id == str(signal_id)
    assert orjson.loads(canonical.body)["signal_id"] == str(signal_id)


@given(_records())
def test_a_derived_signal_id_changes_when_any_field_changes(record: dict[str, Any]) -> None:
    """Each one-field change (value, exact text, presence) gives a different derived id."""
    record.pop("signal_id", None)
    original = canonical_body(parse_candidate(_plain_json(record))).signal_id
    for changed in _one_field_changes(record):
        assert canonical_body(parse_candidate(_plain_json(changed))).signal_id != original


def _plain_json(record: dict[str, Any]) -> bytes:
    members = [f"{json.dumps(name)}:{_plain_value(name, value)}" for name, value in record.items()]
    return ("{" + ",".join(members) + "}").encode()


def _plain_value(name: str, value: Any) -> str:
    if name in _DECIMAL_FIELDS:
        return str(value)
    if name == "generated_at":
        return f'"{value.isoformat()}"'
    return json.dumps(str(value))


def _one_field_changes(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Valid records that differ from `record` in exactly one field."""
    changes: list[dict[str, Any]] = []
    for name, value in record.items():
        if name in _DECIMAL_FIELDS:
            # Same value, different text: the exact text is part of the signal.
            changes.append({**record, name: value + "0" if "." in value else value + ".0"})
        elif name in _TEXT_LIMITS:
            changes.append({**record, name: value[:-1] if value else "x"})
        elif name == "instrument":
            changes.append({**record, name: value[:-1] if len(value) > 1 else value + "0"})
        elif name == "generated_at":
            changes.append({**record, name: value + timedelta(microseconds=1)})
        if name not in {"instrument", "side", "entry_price", "confidence"}:
            changes.append({key: kept for key, kept in record.items() if key != name})
    # The other side, with stop and target swapped so that they stay on their right sides.
    flipped = {k: v for k, v in record.items() if k not in {"stop_loss", "take_profit"}}
    flipped["side"] = "sell" if record["side"] == "buy" else "buy"
    if "stop_loss" in record:
        flipped["take_profit"] = record["stop_loss"]
    if "take_profit" in record:
        flipped["stop_loss"] = record["take_profit"]
    return [*changes, flipped]


def test_a_derived_signal_id_survives_a_restart() -> None:
    """A fresh interpreter, with another hash seed, derives the same id for the same record."""
    raw = b'{"instrument":"EURUSD","side":"buy","entry_price":1.0852,"confidence":0.5,"note":"x"}'
    script = (
        "import sys; from schemas.record import parse_candidate; "
        "from signing.canonical import canonical_body; "
        "print(canonical_body(parse_candidate(sys.stdin.buffer.read())).signal_id)"
    )
    root = Path(__file__).resolve().parent.parent
    ids = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(root)}
        done = subprocess.run(
            [sys.executable, "-c", script], input=raw, capture_output=True, check=True, env=env
        )
        ids.add(done.stdout.decode().strip())
    assert ids == {canonical_body(parse_candidate(raw)).signal_id}
