"""RequestSigner gives signed_headers' exact output; format_epoch gives format_timestamp's text."""

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signing._mac import KeyedSha256
from signing.errors import SigningInputError
from signing.headers import signed_headers
from signing.signer import RequestSigner
from signing.timestamps import format_epoch, format_timestamp

SECRET = "request-signer-secret-0001"
SIGNAL_ID = "3f2b8c1e-6d4a-4e2f-9b7c-0a1d2e3f4a5b"
LAST_INSTANT = 253402300799.999  # 9999-12-31T23:59:59.999Z

producer_ids = st.from_regex(r"[A-Za-z0-9._-]{1,64}", fullmatch=True)
paths = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=40).map(
    lambda rest: "/" + rest
)
instants = st.floats(min_value=0, max_value=LAST_INSTANT, allow_nan=False)


def _old_text(at: float) -> str:
    return format_timestamp(datetime.fromtimestamp(at, tz=UTC))


@given(instants)
def test_format_epoch_writes_what_format_timestamp_writes(at: float) -> None:
    assert format_epoch(at) == _old_text(at)


@given(
    instants.filter(lambda at: at < 2**33),
    st.lists(st.floats(min_value=-0.002, max_value=0.002), min_size=1, max_size=20),
)
def test_format_epoch_reuses_no_text_across_a_millisecond_edge(
    at: float, steps: list[float]
) -> None:
    """Instants close together (the reuse of the last text) each get their own exact text."""
    for step in steps:
        assert format_epoch(at + step) == _old_text(at + step)


def test_format_epoch_at_every_step_across_millisecond_edges() -> None:
    """Walking across edges in 0.1 us steps, upwards and back, every text is exact."""
    for edge in (1795836000.001, 1795836000.5, 1795836001.0, 4294967295.999, 4294967296.0):
        walk = [edge + n * 1e-7 for n in range(-100, 100)]
        for at in walk + walk[::-1]:
            assert format_epoch(at) == _old_text(at), at


@given(st.binary(max_size=200), st.binary(max_size=500))
def test_keyed_sha256_is_hmac_sha256(key: bytes, message: bytes) -> None:
    """The precomputed key states give hmac's digest, for keys shorter and longer than a block."""
    assert KeyedSha256(key).digest(message) == hmac.digest(key, message, "sha256")


@given(st.floats(min_value=-62135596800, max_value=0, allow_nan=False))
def test_format_epoch_before_1970_takes_the_datetime_path(at: float) -> None:
    assert format_epoch(at) == _old_text(at)


@pytest.mark.parametrize(
    ("at", "text"),
    [
        (0.0, "1970-01-01T00:00:00.000Z"),
        (1.9999996, "1970-01-01T00:00:02.000Z"),  # rounds to the microsecond first
        (1.9994, "1970-01-01T00:00:01.999Z"),  # then cuts, never rounds, the milliseconds
        (1795836000.5, "2026-11-28T03:20:00.500Z"),
        (1795836000.25, "2026-11-28T03:20:00.250Z"),  # same second, cached date part
        (1795836001.0, "2026-11-28T03:20:01.000Z"),  # the next second
    ],
)
def test_format_epoch_known_instants(at: float, text: str) -> None:
    assert format_epoch(at) == text


@pytest.mark.parametrize("at", [1e20, -1e20, float("inf"), float("nan")])
def test_format_epoch_refuses_instants_no_datetime_holds(at: float) -> None:
    with pytest.raises(SigningInputError, match="names no instant"):
        format_epoch(at)


@given(
    secret=st.binary(min_size=16, max_size=64),
    producer_id=producer_ids,
    endpoint=paths,
    body=st.binary(max_size=512),
    at=instants,
)
def test_headers_equal_signed_headers(
    secret: bytes, producer_id: str, endpoint: str, body: bytes, at: float
) -> None:
    signer = RequestSigner(secret, producer_id=producer_id, endpoint=endpoint)
    expected = signed_headers(
        secret,
        body,
        signal_id=SIGNAL_ID,
        producer_id=producer_id,
        endpoint=endpoint,
        timestamp=_old_text(at),
    )
    assert signer.headers(body, signal_id=SIGNAL_ID, at=at) == expected


def test_signature_matches_an_independent_hmac() -> None:
    signer = RequestSigner(SECRET, producer_id="relay-1", endpoint="/ingest")
    body = b'{"a":"1"}'
    timestamp = "2026-11-28T03:00:00.000Z"
    body_digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    message = (
        f"METHOD:POST\nENDPOINT:/ingest\nTIMESTAMP:{timestamp}\n"
        f"PRODUCER_ID:relay-1\nBODY_SHA256:{body_digest}"
    )
    mac = hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).digest()
    assert signer.signature(body, timestamp) == base64.b64encode(mac).decode()


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"secret": "short"}, "at least 16 bytes"),
        ({"producer_id": "has space"}, "producer_id must match"),
        ({"producer_id": ""}, "producer_id is empty"),
        ({"endpoint": "relative/path"}, "endpoint must be a path"),
        ({"endpoint": "/two\nlines"}, "one line each"),
        ({"method": ""}, "method is empty"),
    ],
)
def test_bad_fixed_inputs_fail_at_construction(kwargs: dict[str, str], problem: str) -> None:
    arguments = {"secret": SECRET, "producer_id": "relay-1", **kwargs}
    secret = arguments.pop("secret")
    with pytest.raises(SigningInputError, match=problem):
        RequestSigner(secret, **arguments)


@pytest.mark.parametrize("signal_id", ["", "has space", "tab\tinside", "ünïcode"])
def test_a_signal_id_that_is_no_header_value_is_refused(signal_id: str) -> None:
    signer = RequestSigner(SECRET, producer_id="relay-1")
    with pytest.raises(SigningInputError, match="signal_id"):
        signer.headers(b"{}", signal_id=signal_id, at=0.0)


@pytest.mark.parametrize("timestamp", ["", "2026-11-28 03:00:00Z", "yesterday"])
def test_signature_refuses_a_free_form_timestamp(timestamp: str) -> None:
    signer = RequestSigner(SECRET, producer_id="relay-1")
    with pytest.raises(SigningInputError):
        signer.signature(b"{}", timestamp)


def test_the_secret_stays_out_of_the_repr() -> None:
    signer = RequestSigner(SECRET, producer_id="relay-1")
    assert SECRET not in repr(signer)
    assert "relay-1" in repr(signer)


@given(st.text(max_size=40))
def test_a_signal_id_is_refused_unless_it_is_visible_ascii(signal_id: str) -> None:
    """Headers are signed for 0x21-0x7E text only: nothing empty, no space, no control, no UTF-8."""
    signer = RequestSigner(SECRET, producer_id="relay-1")
    visible = signal_id != "" and all(0x21 <= ord(char) <= 0x7E for char in signal_id)
    if visible:
        assert signer.headers(b"{}", signal_id=signal_id, at=0.0)["X-Idempotency-Key"] == signal_id
    else:
        with pytest.raises(SigningInputError, match="visible ASCII"):
            signer.headers(b"{}", signal_id=signal_id, at=0.0)
