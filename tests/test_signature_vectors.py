"""Known-answer vectors for the request signature, and what build_signature refuses to sign."""

import base64
import hashlib
import hmac
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from signing.errors import SigningInputError
from signing.headers import signed_headers
from signing.signature import build_signature, canonical_request, verify_signature

VECTORS_FILE = Path(__file__).with_name("signature_vectors.json")
OPENSSL = shutil.which("openssl")


@dataclass(frozen=True, slots=True)
class Vector:
    """One stored case: the inputs as the API takes them and the expected outputs."""

    name: str
    secret: str | bytes
    method: str
    endpoint: str
    timestamp: str
    producer_id: str
    body: bytes
    body_sha256: str
    canonical_request: str
    signature: str

    @property
    def key(self) -> bytes:
        """The secret as HMAC key bytes."""
        return self.secret.encode() if isinstance(self.secret, str) else self.secret


def _vector(raw: dict[str, Any]) -> Vector:
    return Vector(
        name=raw["name"],
        secret=bytes.fromhex(raw["secret_hex"]) if "secret_hex" in raw else raw["secret"],
        method=raw["method"],
        endpoint=raw["endpoint"],
        timestamp=raw["timestamp"],
        producer_id=raw["producer_id"],
        body=bytes.fromhex(raw["body_hex"]) if "body_hex" in raw else raw["body"].encode(),
        body_sha256=raw["body_sha256"],
        canonical_request=raw["canonical_request"],
        signature=raw["signature"],
    )


VECTORS = [_vector(raw) for raw in json.loads(VECTORS_FILE.read_text("utf-8"))["vectors"]]
by_vector = pytest.mark.parametrize("vector", VECTORS, ids=[vector.name for vector in VECTORS])


def _independent_canonical(vector: Vector) -> bytes:
    body_digest = base64.b64encode(hashlib.sha256(vector.body).digest()).decode()
    lines = [
        f"METHOD:{vector.method}",
        f"ENDPOINT:{vector.endpoint}",
        f"TIMESTAMP:{vector.timestamp}",
        f"PRODUCER_ID:{vector.producer_id}",
        f"BODY_SHA256:{body_digest}",
    ]
    return "\n".join(lines).encode("utf-8")


def test_vectors_cover_the_interesting_inputs() -> None:
    """The vector file holds a dozen cases spanning the inputs that are easy to get wrong."""
    assert len(VECTORS) >= 12
    assert any(len(vector.key) == 16 for vector in VECTORS)
    assert any(isinstance(v.secret, str) and not v.secret.isascii() for v in VECTORS)
    assert any(isinstance(v.secret, bytes) for v in VECTORS)
    assert any(vector.body == b"" for vector in VECTORS)
    assert any(not vector.body.isascii() for vector in VECTORS)
    assert len({vector.method for vector in VECTORS}) > 1
    assert len({vector.endpoint for vector in VECTORS}) > 1
    assert len({vector.producer_id for vector in VECTORS}) > 1
    assert len({vector.signature for vector in VECTORS}) == len(VECTORS)


@by_vector
def test_independent_computation_reproduces_vector(vector: Vector) -> None:
    """Plain hashlib, hmac and base64 give the stored body digest, canonical text and signature."""
    canonical = _independent_canonical(vector)
    mac = hmac.new(vector.key, canonical, hashlib.sha256).digest()

    assert base64.b64encode(hashlib.sha256(vector.body).digest()).decode() == vector.body_sha256
    assert canonical.decode("utf-8") == vector.canonical_request
    assert base64.b64encode(mac).decode() == vector.signature


@pytest.mark.skipif(OPENSSL is None, reason="openssl is not on PATH")
@by_vector
def test_openssl_reproduces_vector(vector: Vector) -> None:
    """OpenSSL's HMAC-SHA256 of the stored canonical request gives the stored signature."""
    assert OPENSSL is not None
    hmac_key = f"hexkey:{vector.key.hex()}"
    completed = subprocess.run(
        [OPENSSL, "dgst", "-sha256", "-binary", "-mac", "HMAC", "-macopt", hmac_key],
        input=vector.canonical_request.encode("utf-8"),
        capture_output=True,
        check=True,
        timeout=30,
    )

    assert base64.b64encode(completed.stdout).decode() == vector.signature


@by_vector
def test_canonical_request_matches_vector(vector: Vector) -> None:
    """canonical_request produces the stored five lines, byte for byte."""
    produced = canonical_request(
        vector.method, vector.endpoint, vector.timestamp, vector.producer_id, vector.body
    )

    assert produced == vector.canonical_request.encode("utf-8")


@by_vector
def test_build_signature_matches_vector(vector: Vector) -> None:
    """build_signature returns the stored signature."""
    produced = build_signature(
        vector.secret,
        vector.body,
        vector.timestamp,
        vector.producer_id,
        method=vector.method,
        endpoint=vector.endpoint,
    )

    assert produced == vector.signature


@by_vector
def test_verify_signature_accepts_vector(vector: Vector) -> None:
    """verify_signature accepts the stored signature, as text and as bytes."""
    for provided in (vector.signature, vector.signature.encode()):
        assert verify_signature(
            vector.secret,
            vector.body,
            vector.timestamp,
            vector.producer_id,
            provided,
            method=vector.method,
            endpoint=vector.endpoint,
        )


@by_vector
def test_signed_headers_carry_vector_signature(vector: Vector) -> None:
    """signed_headers returns the five protocol headers with the stored signature."""
    headers = signed_headers(
        vector.secret,
        vector.body,
        signal_id="3f2b8c1e-6d4a-4e2f-9b7c-0a1d2e3f4a5b",
        producer_id=vector.producer_id,
        endpoint=vector.endpoint,
        timestamp=vector.timestamp,
        method=vector.method,
    )

    assert headers == {
        "Content-Type": "application/json",
        "X-Producer-Id": vector.producer_id,
        "X-Timestamp": vector.timestamp,
        "X-Signature": vector.signature,
        "X-Idempotency-Key": "3f2b8c1e-6d4a-4e2f-9b7c-0a1d2e3f4a5b",
    }


def test_default_method_and_endpoint_are_the_ingest_post() -> None:
    """Without method and endpoint, build_signature signs POST /api/v1/signals/ingest."""
    vector = VECTORS[0]
    assert (vector.method, vector.endpoint) == ("POST", "/api/v1/signals/ingest")

    assert build_signature(vector.secret, vector.body, vector.timestamp, vector.producer_id) == (
        vector.signature
    )


def _other_spellings(signature: str) -> list[str]:
    """Texts that decode (leniently) to the same digest as `signature`, but are not canonical."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    # 32 bytes leave the two low bits of the last character unused; canonical text has them 0.
    last = alphabet[alphabet.index(signature[-2]) ^ 1]
    return [
        signature[:-2] + last + "=",
        signature.rstrip("="),
        f" {signature}",
        f"{signature}\n",
        signature.replace("+", "-").replace("/", "_"),
    ]


@by_vector
def test_verify_signature_refuses_other_spellings_of_the_same_digest(vector: Vector) -> None:
    """Only the canonical base64 text verifies: unused bits, padding, space, URL-safe alphabet."""
    digest = base64.b64decode(vector.signature)
    spellings = [s for s in _other_spellings(vector.signature) if s != vector.signature]
    assert all(base64.b64decode(s + "==", altchars=b"-_") == digest for s in spellings)

    for spelling in spellings:
        assert not verify_signature(
            vector.secret,
            vector.body,
            vector.timestamp,
            vector.producer_id,
            spelling,
            method=vector.method,
            endpoint=vector.endpoint,
        )


SECRET = "do-not-leak-this-secret"
BODY = b'{"signal_id":"00000000-0000-4000-8000-000000000000"}'
TIMESTAMP = "2026-11-28T03:00:00.123Z"


@pytest.mark.parametrize(
    ("secret", "timestamp", "producer_id", "options", "message"),
    [
        (SECRET, TIMESTAMP, "", {}, "producer_id is empty"),
        (SECRET, TIMESTAMP, "has space", {}, "producer_id must match"),
        (SECRET, TIMESTAMP, "p" * 65, {}, "producer_id must match"),
        (SECRET, "", "producer-1", {}, "timestamp is empty"),
        (SECRET, "2026-11-28 03:00:00Z", "producer-1", {}, "is not RFC 3339"),
        (SECRET, "2026-11-28T03:00:00", "producer-1", {}, "is not RFC 3339"),
        (SECRET[:15], TIMESTAMP, "producer-1", {}, "at least 16 bytes; got 15"),
        (b"", TIMESTAMP, "producer-1", {}, "at least 16 bytes; got 0"),
        (SECRET, TIMESTAMP, "producer-1", {"method": ""}, "method is empty"),
        (SECRET, TIMESTAMP, "producer-1", {"endpoint": "api/v1"}, "starting with '/'"),
        (SECRET, TIMESTAMP, "producer-1", {"endpoint": "/a\nMETHOD:GET"}, "one line each"),
        (SECRET, TIMESTAMP, "producer-1", {"method": "POST\r"}, "one line each"),
        (SECRET, TIMESTAMP, "producer-1", {"endpoint": "/\udcff"}, "not encodable"),
    ],
)
def test_build_signature_refuses_unsignable_input(
    secret: str | bytes, timestamp: str, producer_id: str, options: dict[str, str], message: str
) -> None:
    """Input a verifier would refuse raises SigningInputError naming the problem, not the secret."""
    with pytest.raises(SigningInputError, match=message) as caught:
        build_signature(secret, BODY, timestamp, producer_id, **options)

    assert isinstance(caught.value, ValueError)
    assert SECRET[:15] not in str(caught.value)


@pytest.mark.parametrize("signal_id", ["", "has space", "new\nline", "ключ"])
def test_signed_headers_refuse_a_signal_id_that_is_no_header_value(signal_id: str) -> None:
    """A signal id that cannot travel as X-Idempotency-Key raises SigningInputError."""
    with pytest.raises(SigningInputError, match="signal_id"):
        signed_headers(
            SECRET,
            BODY,
            signal_id=signal_id,
            producer_id="producer-1",
            endpoint="/api/v1/signals/ingest",
            timestamp=TIMESTAMP,
        )
