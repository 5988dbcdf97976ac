"""The canonical body: the exact bytes signed and sent for one candidate (docs/PROTOCOL.md §3).

Sorted keys, no whitespace, UTF-8 without `\\u` escapes for non-ASCII, absent optional fields
omitted, decimals as strings in plain notation, `generated_at` in UTC with `Z`, and always a
`signal_id`: the record's own, or one derived from the rest of the body.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from schemas.candidate import SignalCandidate

SIGNAL_ID_NAMESPACE = uuid.UUID("4cd3bdf7-0498-5214-9ae5-de2f9e82eb49")
"""The uuid5 namespace of derived signal ids: uuid5(NAMESPACE_URL, "urn:signal-relay:signal-id").

Fixed forever: changing it changes every derived id, so redelivered records would stop
deduplicating against what the server already has.
"""

_NAMESPACE_BYTES = SIGNAL_ID_NAMESPACE.bytes
_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z


class CanonicalSignal(NamedTuple):
    """One candidate's canonical body and the signal id it carries (a named pair: cheap to make).

    Attributes:
        body: the canonical JSON bytes, exactly as signed and sent.
        signal_id: the body's `signal_id` (lower-case hyphenated), also the idempotency key.
    """

    body: bytes
    signal_id: str


def canonical_body(candidate: SignalCandidate) -> CanonicalSignal:
    """The canonical body of `candidate`, deriving its signal_id when the record has none."""
    fields = _fields_without_id(candidate)
    if candidate.signal_id is not None:
        fields["signal_id"] = str(candidate.signal_id)
    return canonical_fields(fields)


def canonical_fields(fields: dict[str, Any]) -> CanonicalSignal:
    """The canonical body of fields already in canonical form, deriving a missing signal_id.

    Canonical form: decimals as plain-notation text, `generated_at` an aware datetime in UTC,
    `signal_id` lower-case hyphenated text, absent optional fields left out (what
    `schemas.record.common_fields` returns). `fields` gains the signal_id it lacked.
    """
    signal_id = fields.get("signal_id")
    if signal_id is None:
        signal_id = fields["signal_id"] = derive_signal_id(_dumps(fields, option=_OPTIONS))
    # CanonicalSignal(body, signal_id) without the Python-level __new__ of a named tuple.
    return _new_tuple(CanonicalSignal, (_dumps(fields, option=_OPTIONS), signal_id))


def derive_signal_id(body_without_id: bytes) -> str:
    """str(uuid5(SIGNAL_ID_NAMESPACE, body_without_id)): the same signal always gets the same id."""
    # uuid5's definition spelled out on the hex digest: uuid.uuid5 takes bytes only from Python
    # 3.12, and building a uuid.UUID costs more than the hash on this hot path.
    text = hashlib.sha1(_NAMESPACE_BYTES + body_without_id, usedforsecurity=False).hexdigest()
    # Version 5 in the 13th digit; the RFC 4122 variant (binary 10) in the top bits of the 17th.
    return f"{text[:8]}-{text[8:12]}-5{text[13:16]}-{_VARIANT[text[16]]}{text[17:20]}-{text[20:32]}"


_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def _fields_without_id(candidate: SignalCandidate) -> dict[str, Any]:
    # One read of the instance's fields (a pydantic model keeps them in __dict__), then locals:
    # this runs once per record on the hot path.
    values = candidate.__dict__
    fields: dict[str, str | datetime] = {
        "instrument": values["instrument"],
        "side": values["side"],
        # Decimals in plain notation with their exact digits: 1E+2 -> "100", 1.50 -> "1.50".
        "entry_price": format(values["entry_price"], "f"),
        "confidence": format(values["confidence"], "f"),
    }
    for name in _PLAIN_OPTIONAL:
        value = values[name]
        if value is not None:
            fields[name] = format(value, "f")
    for name in _AS_IS_OPTIONAL:
        # generated_at is already in UTC (the model normalises it); orjson writes it with Z,
        # and its microseconds only when non-zero.
        value = values[name]
        if value is not None:
            fields[name] = value
    return fields


_PLAIN_OPTIONAL = ("stop_loss", "take_profit")
_AS_IS_OPTIONAL = ("strategy", "timeframe", "generated_at", "note")
_dumps = orjson.dumps
_new_tuple = tuple.__new__
