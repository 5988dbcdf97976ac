"""From a Kafka record's value bytes to a validated SignalCandidate, or the error saying why not."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from json.scanner import make_scanner
from typing import Any, NoReturn, cast

import jiter
from pydantic import ValidationError

from schemas._native import native_candidate, native_fields
from schemas.candidate import SignalCandidate
from schemas.errors import (
    DuplicateKeyError,
    EmptyRecordError,
    NonFiniteNumberError,
    NotAnObjectError,
    NotJsonError,
    NotUtf8Error,
    RecordTooLargeError,
    SchemaViolationError,
)

_JSON_TYPE_NAMES: dict[type, str] = {
    list: "an array",
    str: "a string",
    Decimal: "a number",
    bool: "a boolean",
    type(None): "null",
}


def parse_candidate(raw: bytes | None, *, max_size: int | None = None) -> SignalCandidate:
    """Decode and validate one record value; raise the RecordError subclass that says why not.

    Numbers are parsed as Decimal, never through float, so their exact digits survive.

    Two paths, one answer. jiter parses (exact decimals, duplicate keys and NaN refused) and
    pydantic-core's native constraints validate the common valid record (schemas/_native.py).
    Anything else, an invalid record above all, is parsed again by the stdlib decoder and
    validated by `SignalCandidate`, whose errors say why: jiter's error messages and its
    integers (`-0` comes back as 0) never reach the caller.
    """
    if not raw:
        raise EmptyRecordError("record has no value" if raw is None else "record value is empty")
    if max_size is not None and len(raw) > max_size:
        raise RecordTooLargeError(
            f"record value is {len(raw)} bytes, over the {max_size}-byte limit"
        )
    fast = _fast_document(raw)
    if type(fast) is dict:
        candidate = native_candidate(fast)
        if candidate is not None:
            return candidate
    document = _strict_json(_utf8(raw))
    if not isinstance(document, dict):
        kind = _JSON_TYPE_NAMES.get(type(document), type(document).__name__)
        raise NotAnObjectError(f"record must be a JSON object, not {kind}")
    try:
        return SignalCandidate.model_validate(document)
    except ValidationError as exc:
        raise SchemaViolationError.from_validation_error(exc) from exc


def common_fields(raw: bytes) -> dict[str, Any] | None:
    """The canonical body's fields of a common valid record value; None for any other value.

    The relay's fast path (`schemas._native.native_fields` says which fields and in what form):
    it builds no `SignalCandidate`. None says nothing about validity: `parse_candidate` then
    decides, with the model's reasons.
    """
    document = _fast_document(raw)
    return native_fields(document) if type(document) is dict else None


def _fast_document(raw: bytes) -> Any:
    """jiter's reading of `raw`, or None when jiter refuses it (the stdlib path then explains)."""
    try:
        # Exact decimals, duplicate keys and NaN refused. Keys repeat from record to record,
        # values rarely: caching values costs more than it saves.
        return _from_json(
            raw,
            float_mode="decimal",
            catch_duplicate_keys=True,
            allow_inf_nan=False,
            cache_mode="keys",
        )
    except ValueError:
        return None


_from_json = jiter.from_json


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotUtf8Error(f"record value is not UTF-8: {exc.reason} at byte {exc.start}") from exc


def _strict_json(text: str) -> Any:
    try:
        try:
            # The decoder's own scanner, without decode()'s whitespace handling around it.
            document, end = _SCAN_ONCE(text, 0)
        except StopIteration:  # no value right at the start: leading whitespace, or none
            return _DECODER.decode(text)
        if end != len(text):  # trailing whitespace, or extra data (decode raises for it)
            return _DECODER.decode(text)
        return document
    except json.JSONDecodeError as exc:
        raise NotJsonError(f"record value is not JSON: {exc}") from exc
    except InvalidOperation as exc:
        raise NotJsonError("record value has a number out of range") from exc
    except RecursionError as exc:
        raise NotJsonError("record value is nested too deeply") from exc


def _object_without_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise DuplicateKeyError(key)
        seen.add(key)
    raise AssertionError("unreachable: dict() dropped a pair without a repeated key")


def _refuse_non_finite(literal: str) -> NoReturn:
    raise NonFiniteNumberError(f"record value uses {literal}, which is not a JSON number")


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object_without_duplicate_keys,
    parse_float=Decimal,
    parse_int=Decimal,
    parse_constant=_refuse_non_finite,
)
_SCAN_ONCE = make_scanner(cast(Any, _DECODER))  # what _DECODER.decode() runs, minus its wrapping
