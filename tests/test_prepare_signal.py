"""One sendability rule for relay and publisher: valid, and the canonical body fits the limit."""

import orjson
import pytest

from consumer.service import CanonicalTooLargeError, prepare_signal
from schemas.errors import RecordTooLargeError, SchemaViolationError


def _value(**fields: object) -> bytes:
    body: dict[str, object] = {
        "instrument": "EURUSD",
        "side": "buy",
        "entry_price": "1.1",
        "confidence": "0.5",
    }
    body.update(fields)
    return orjson.dumps(body)


def test_a_valid_value_gives_its_candidate_and_canonical_signal() -> None:
    """The candidate and the canonical body agree on the instrument and signal_id."""
    prepared = prepare_signal(_value(), 65536)
    assert prepared.candidate.instrument == "EURUSD"
    assert orjson.loads(prepared.signal.body)["signal_id"] == prepared.signal.signal_id


def test_a_canonical_body_that_outgrows_the_limit_is_too_large_with_its_id() -> None:
    """An exponent written out in plain notation can push a fitting value over the limit."""
    raw = b'{"instrument":"EURUSD","side":"buy","entry_price":1E+60,"confidence":0.5}'
    with pytest.raises(CanonicalTooLargeError) as caught:
        prepare_signal(raw, len(raw) + 20)
    assert caught.value.dlq_reason == "too_large"
    assert len(caught.value.signal_id) == 36
    assert prepare_signal(raw, 4096).signal.body.count(b"0") >= 60


def test_raw_size_and_schema_errors_come_from_the_schemas() -> None:
    """Oversize raw values and invalid ones raise the schema's own errors."""
    with pytest.raises(RecordTooLargeError):
        prepare_signal(_value(note="x" * 900), 512)
    with pytest.raises(SchemaViolationError):
        prepare_signal(_value(side="hold"), 65536)
