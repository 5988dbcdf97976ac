"""Properties of signing: any change to a signed part breaks it, and no input crashes a check."""

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import orjson
from hypothesis import event, given
from hypothesis import strategies as st

from signing.errors import SignatureMismatchError, VerificationError
from signing.headers import signed_headers
from signing.signature import build_signature, verify_signature
from signing.timestamps import format_timestamp, parse_timestamp
from signing.verifier import SignatureVerifier

SECRET = "property-secret-0001"
SIGNAL_ID = "3f2b8c1e-6d4a-4e2f-9b7c-0a1d2e3f4a5b"
PATH = "/api/v1/signals/ingest"
SIGNED_AT = datetime(2026, 11, 28, 3, tzinfo=UTC)
TIMESTAMP = format_timestamp(SIGNED_AT)

utf8_text = st.text(alphabet=st.characters(codec="utf-8"))
secrets = st.binary(min_size=16, max_size=100) | st.text(
    alphabet=st.characters(codec="utf-8"), min_size=16, max_size=40
)
producer_ids = st.from_regex(r"[A-Za-z0-9._-]{1,64}", fullmatch=True)
timestamps = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(format_timestamp)
methods = st.sampled_from(["POST", "PUT", "PATCH", "GET"]) | st.from_regex(
    r"[A-Za-z]{1,12}", fullmatch=True
)
paths = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=40).map(
    lambda rest: "/" + rest
)
bodies = st.binary(max_size=512)


@dataclasses.dataclass(frozen=True, slots=True)
class Parts:
    """Everything a signature covers, plus the secret."""

    secret: str | bytes
    body: bytes
    timestamp: str
    producer_id: str
    method: str
    endpoint: str

    def sign(self) -> str:
        """build_signature over these parts."""
        return build_signature(
            self.secret,
            self.body,
            self.timestamp,
            self.producer_id,
            method=self.method,
            endpoint=self.endpoint,
        )

    def verifies(self, signature: str) -> bool:
        """verify_signature of `signature` against these parts."""
        return verify_signature(
            self.secret,
            self.body,
            self.timestamp,
            self.producer_id,
            signature,
            method=self.method,
            endpoint=self.endpoint,
        )


signed_parts = st.builds(Parts, secrets, bodies, timestamps, producer_ids, methods, paths)
CHANGEABLE: dict[str, st.SearchStrategy[Any]] = {
    "body": bodies,
    "timestamp": timestamps,
    "producer_id": producer_ids,
    "method": methods,
    "endpoint": paths,
}


@given(st.data(), signed_parts, st.sampled_from(sorted(CHANGEABLE)))
def test_any_change_to_a_signed_part_breaks_the_signature(
    data: st.DataObject, parts: Parts, name: str
) -> None:
    """A signature holds for its parts, not for a changed body, time, producer, method or path."""
    signature = parts.sign()
    original = getattr(parts, name)
    other = data.draw(CHANGEABLE[name].filter(lambda value: value != original), label=name)
    changed = dataclasses.replace(parts, **{name: other})

    assert parts.verifies(signature)
    assert not changed.verifies(signature)


ORIGINAL: dict[str, Any] = {
    "body": orjson.dumps({"signal_id": SIGNAL_ID}),
    "timestamp": TIMESTAMP,
    "producer_id": "producer-1",
    "method": "POST",
    "endpoint": PATH,
}
ORIGINAL_HEADERS = signed_headers(
    SECRET,
    ORIGINAL["body"],
    signal_id=SIGNAL_ID,
    producer_id=ORIGINAL["producer_id"],
    endpoint=ORIGINAL["endpoint"],
    timestamp=ORIGINAL["timestamp"],
)
CHANGEABLE_AT_VERIFIER: dict[str, st.SearchStrategy[Any]] = {
    "body": bodies,
    "timestamp": st.integers(min_value=-60_000, max_value=300_000).map(
        lambda ms: format_timestamp(SIGNED_AT + timedelta(milliseconds=ms))
    ),
    "producer_id": producer_ids,
    "method": utf8_text,
    "endpoint": utf8_text,
}


@given(st.data(), st.sampled_from(sorted(CHANGEABLE_AT_VERIFIER)))
def test_verifier_refuses_any_changed_part_as_a_mismatch(data: st.DataObject, name: str) -> None:
    """Through the verifier, a changed part inside the window is a SignatureMismatchError."""
    parts = dict(ORIGINAL)
    parts[name] = data.draw(
        CHANGEABLE_AT_VERIFIER[name].filter(lambda value: value != ORIGINAL[name]), label=name
    )
    headers = {
        **ORIGINAL_HEADERS,
        "X-Producer-Id": parts["producer_id"],
        "X-Timestamp": parts["timestamp"],
    }
    verifier = SignatureVerifier([SECRET], clock=parse_timestamp(parts["timestamp"]).timestamp)

    try:
        verifier.verify(
            method=parts["method"], path=parts["endpoint"], headers=headers, body=parts["body"]
        )
    except SignatureMismatchError:
        return
    raise AssertionError(f"a changed {name} was accepted")


anything: st.SearchStrategy[object] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(),
    st.binary(),
    st.lists(st.integers(), max_size=3),
    st.builds(object),
)
_untyped_verify_signature = cast(Callable[..., object], verify_signature)


@given(
    secret=anything | st.just(SECRET),
    body=anything | st.just(b"{}"),
    timestamp=anything | st.just(TIMESTAMP),
    producer_id=anything | st.just("producer-1"),
    provided=anything | st.just(build_signature(SECRET, b"{}", TIMESTAMP, "producer-1")),
    method=anything | st.just("POST"),
    endpoint=anything | st.just(PATH),
)
def test_verify_signature_never_raises(
    secret: object,
    body: object,
    timestamp: object,
    producer_id: object,
    provided: object,
    method: object,
    endpoint: object,
) -> None:
    """verify_signature answers a bool for any arguments at all, malformed or of the wrong type."""
    result = _untyped_verify_signature(
        secret, body, timestamp, producer_id, provided, method=method, endpoint=endpoint
    )

    assert isinstance(result, bool)


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(), utf8_text
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(utf8_text, inner, max_size=3),
    max_leaves=8,
)
verifier_bodies = st.one_of(
    st.binary(max_size=256),
    json_values.map(orjson.dumps),
    st.fixed_dictionaries(
        {"signal_id": st.just(SIGNAL_ID) | json_values}, optional={"x": json_values}
    ).map(orjson.dumps),
)


@given(st.data(), verifier_bodies)
def test_verifier_raises_nothing_but_verification_errors(data: st.DataObject, body: bytes) -> None:
    """For any header texts and body, verify returns or raises a VerificationError, nothing else."""
    valid = signed_headers(
        SECRET,
        body,
        signal_id=SIGNAL_ID,
        producer_id="producer-1",
        endpoint=PATH,
        timestamp=TIMESTAMP,
    )
    headers = data.draw(st.dictionaries(st.text(max_size=20), st.text(), max_size=4), label="extra")
    for name, value in valid.items():
        spelled = data.draw(st.sampled_from([name, name.lower(), name.upper()]), label=name)
        chosen = data.draw(st.just(value) | st.text() | st.none(), label=f"{name} value")
        if chosen is not None:
            headers[spelled] = chosen
    method = data.draw(st.just("POST") | st.text(), label="method")
    path = data.draw(st.just(PATH) | st.text(), label="path")
    verifier = SignatureVerifier([SECRET], clock=SIGNED_AT.timestamp)

    try:
        verified = verifier.verify(method=method, path=path, headers=headers, body=body)
    except VerificationError as exc:
        event(f"rejected: {exc.code}")
        return
    event("accepted")
    assert verified.signal_id == SIGNAL_ID
