"""candidate_json_schema: the exported JSON Schema states the record's rules."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from schemas.candidate import candidate_json_schema


def _properties() -> dict[str, Any]:
    properties: dict[str, Any] = candidate_json_schema()["properties"]
    return properties


def _branches(field: str) -> list[dict[str, Any]]:
    """The non-null alternatives of a field's schema, flattened."""
    found: list[dict[str, Any]] = []
    pending = [_properties()[field]]
    while pending:
        schema = pending.pop()
        if "anyOf" in schema:
            pending.extend(schema["anyOf"])
        elif schema.get("type") != "null":
            found.append(schema)
    return found


def test_the_schema_is_json() -> None:
    """The schema survives a JSON round trip unchanged and declares its dialect."""
    schema = candidate_json_schema()
    assert json.loads(json.dumps(schema)) == schema
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"


def test_the_schema_names_the_required_fields_and_forbids_others() -> None:
    """instrument, side, entry_price and confidence are required; unknown fields are not allowed."""
    schema = candidate_json_schema()
    assert sorted(schema["required"]) == ["confidence", "entry_price", "instrument", "side"]
    assert schema["additionalProperties"] is False
    assert sorted(schema["properties"]) == sorted(
        [
            "signal_id",
            "instrument",
            "side",
            "entry_price",
            "stop_loss",
            "take_profit",
            "confidence",
            "strategy",
            "timeframe",
            "generated_at",
            "note",
        ]
    )


def test_the_schema_states_the_string_rules() -> None:
    """instrument's pattern and lengths, side's values and the text limits are in the schema."""
    properties = _properties()
    assert properties["instrument"]["pattern"] == "^[A-Z0-9][A-Z0-9._/-]*$"
    assert (properties["instrument"]["minLength"], properties["instrument"]["maxLength"]) == (1, 32)
    assert properties["side"]["enum"] == ["buy", "sell"]
    limits = {name: _branches(name)[0]["maxLength"] for name in ("strategy", "timeframe", "note")}
    assert limits == {"strategy": 64, "timeframe": 16, "note": 1000}
    assert _branches("generated_at")[0]["format"] == "date-time"
    assert _branches("signal_id")[0]["format"] == "uuid"


@pytest.mark.parametrize("field", ["entry_price", "stop_loss", "take_profit", "confidence"])
def test_decimals_are_number_or_string(field: str) -> None:
    """Each decimal field accepts a JSON number or a string."""
    assert sorted(branch["type"] for branch in _branches(field)) == ["number", "string"]


@pytest.mark.parametrize(
    ("field", "accepted", "refused"),
    [
        ("entry_price", ["1", "0.5", "1.50", "0.0001"], ["0", "0.000", "-1", "1e5", "01", ".5"]),
        ("confidence", ["0", "-0", "0.5", "1", "1.000"], ["1.01", "2", "-0.1", "1e0"]),
    ],
)
def test_decimal_string_patterns_match_the_validator(
    field: str, accepted: list[str], refused: list[str]
) -> None:
    """The string pattern of a decimal field accepts and refuses what the model does."""
    (string_branch,) = [branch for branch in _branches(field) if branch["type"] == "string"]
    pattern = re.compile(string_branch["pattern"])
    assert all(pattern.search(text) for text in accepted)
    assert not any(pattern.search(text) for text in refused)


def test_number_bounds_are_stated() -> None:
    """Prices are exclusive-minimum 0; confidence is between 0 and 1."""
    (price,) = [branch for branch in _branches("entry_price") if branch["type"] == "number"]
    (confidence,) = [branch for branch in _branches("confidence") if branch["type"] == "number"]
    assert price["exclusiveMinimum"] == 0
    assert (confidence["minimum"], confidence["maximum"]) == (0, 1)
