"""The server-side verifier: every documented rejection, its order, the window, rotation, replay."""

import base64
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from signing.errors import (
    DuplicateHeaderError,
    FutureTimestampError,
    IdempotencyKeyMismatchError,
    MalformedSignatureError,
    MalformedTimestampError,
    MissingHeaderError,
    ProducerIdError,
    ReplayedSignatureError,
    SignatureMismatchError,
    SigningError,
    SigningInputError,
    StaleTimestampError,
    VerificationError,
)
from signing.headers import signed_headers
from signing.replay import InMemoryReplayCache
from signing.timestamps import format_timestamp
from signing.verifier import SignatureVerifier, VerifiedRequest

SECRET = "verifier-secret-number-one"
SECOND_SECRET = b"verifier-secret-number-two"
PATH = "/api/v1/signals/ingest"
PRODUCER = "producer-1"
SIGNAL_ID = "3f2b8c1e-6d4a-4e2f-9b7c-0a1d2e3f4a5b"
BODY = b'{"instrument":"EURUSD","side":"buy","signal_id":"' + SIGNAL_ID.encode() + b'"}'
SIGNED_AT = datetime(2026, 11, 28, 3, tzinfo=UTC)
T0 = SIGNED_AT.timestamp()
TIMESTAMP = format_timestamp(SIGNED_AT)


class FakeClock:
    """A clock that reads whatever the test set."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def sign(
    *,
    secret: str | bytes = SECRET,
    body: bytes = BODY,
    timestamp: str = TIMESTAMP,
    producer_id: str = PRODUCER,
    signal_id: str = SIGNAL_ID,
) -> dict[str, str]:
    """Headers of a correctly signed request for the given parts."""
    return signed_headers(
        secret,
        body,
        signal_id=signal_id,
        producer_id=producer_id,
        endpoint=PATH,
        timestamp=timestamp,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def verifier(clock: FakeClock) -> SignatureVerifier:
    return SignatureVerifier([SECRET], clock=clock)


def verify(
    verifier: SignatureVerifier, headers: dict[str, str], body: bytes = BODY
) -> VerifiedRequest:
    return verifier.verify(method="POST", path=PATH, headers=headers, body=body)


def test_accepts_a_correctly_signed_request(verifier: SignatureVerifier) -> None:
    """A fresh request signed with the active secret yields what it proves."""
    assert verify(verifier, sign()) == VerifiedRequest(
        producer_id=PRODUCER,
        timestamp=TIMESTAMP,
        signed_at=SIGNED_AT,
        signal_id=SIGNAL_ID,
        idempotency_key=SIGNAL_ID,
    )


@pytest.mark.parametrize("spell", [str.lower, str.upper, str.swapcase])
def test_header_names_match_in_any_case(
    verifier: SignatureVerifier, spell: Callable[[str], str]
) -> None:
    """Header names are looked up without regard to letter case."""
    headers = {spell(name): value for name, value in sign().items()}

    assert verify(verifier, headers).signal_id == SIGNAL_ID


@dataclass(frozen=True, slots=True)
class BadCase:
    """A request that one check must reject, and the error it must be rejected with."""

    name: str
    error: type[VerificationError]
    headers: dict[str, str]
    body: bytes = BODY
    method: str = "POST"
    path: str = PATH
    seconds_after_signing: float = 0.0


def _with(headers: dict[str, str], **changes: str | None) -> dict[str, str]:
    """A copy of `headers` with header values replaced (None: removed); names use "_" for "-"."""
    changed = dict(headers)
    for key, value in changes.items():
        name = key.replace("_", "-")
        if value is None:
            del changed[name]
        else:
            changed[name] = value
    return changed


SIGNATURE = sign()["X-Signature"]
BAD_CASES = [
    BadCase("no producer id", MissingHeaderError, _with(sign(), X_Producer_Id=None)),
    BadCase("no timestamp", MissingHeaderError, _with(sign(), X_Timestamp=None)),
    BadCase("no signature", MissingHeaderError, _with(sign(), X_Signature=None)),
    BadCase("no idempotency key", MissingHeaderError, _with(sign(), X_Idempotency_Key=None)),
    BadCase(
        "kelvin sign lookalike name",
        MissingHeaderError,
        {
            ("X-Idempotency-\u212aey" if name == "X-Idempotency-Key" else name): value
            for name, value in sign().items()
        },
    ),
    BadCase(
        "conflicting duplicate",
        DuplicateHeaderError,
        {**sign(), "x-signature": SIGNATURE[::-1]},
    ),
    BadCase("empty producer id", ProducerIdError, _with(sign(), X_Producer_Id="")),
    BadCase("producer id with space", ProducerIdError, _with(sign(), X_Producer_Id="a b")),
    BadCase("producer id too long", ProducerIdError, _with(sign(), X_Producer_Id="p" * 65)),
    BadCase("timestamp in words", MalformedTimestampError, _with(sign(), X_Timestamp="yesterday")),
    BadCase(
        "naive timestamp",
        MalformedTimestampError,
        _with(sign(), X_Timestamp="2026-11-28T03:00:00.000"),
    ),
    BadCase(
        "timestamp with whitespace",
        MalformedTimestampError,
        _with(sign(), X_Timestamp=f" {TIMESTAMP}"),
    ),
    BadCase("stale", StaleTimestampError, sign(), seconds_after_signing=300.001),
    BadCase("future", FutureTimestampError, sign(), seconds_after_signing=-60.001),
    BadCase("empty signature", MalformedSignatureError, _with(sign(), X_Signature="")),
    BadCase(
        "signature not base64",
        MalformedSignatureError,
        _with(sign(), X_Signature="!" + SIGNATURE[1:]),
    ),
    BadCase(
        "signature without padding",
        MalformedSignatureError,
        _with(sign(), X_Signature=SIGNATURE.rstrip("=")),
    ),
    BadCase(
        "signature in URL-safe alphabet",
        MalformedSignatureError,
        _with(sign(), X_Signature="-" + SIGNATURE[1:]),
    ),
    BadCase(
        "signature of 31 bytes",
        MalformedSignatureError,
        _with(sign(), X_Signature=base64.b64encode(bytes(31)).decode()),
    ),
    BadCase(
        "signature of 33 bytes",
        MalformedSignatureError,
        _with(sign(), X_Signature=base64.b64encode(bytes(33)).decode()),
    ),
    BadCase(
        "signature with non-ASCII",
        MalformedSignatureError,
        _with(sign(), X_Signature="é" + SIGNATURE[1:]),
    ),
    BadCase("wrong secret", SignatureMismatchError, sign(secret="some-other-secret-value")),
    BadCase("body changed", SignatureMismatchError, sign(), body=BODY + b" "),
    BadCase("method changed", SignatureMismatchError, sign(), method="PUT"),
    BadCase("path changed", SignatureMismatchError, sign(), path="/api/v1/signals/ingest/"),
    BadCase("path with a line break", SignatureMismatchError, sign(), path="/a\nb"),
    BadCase(
        "producer id swapped",
        SignatureMismatchError,
        _with(sign(), X_Producer_Id="producer-2"),
    ),
    BadCase(
        "timestamp swapped",
        SignatureMismatchError,
        _with(sign(), X_Timestamp="2026-11-28T03:00:00.001Z"),
    ),
    BadCase(
        "key differs from signal_id",
        IdempotencyKeyMismatchError,
        sign(signal_id="00000000-0000-4000-8000-000000000000"),
    ),
    BadCase(
        "body not JSON",
        IdempotencyKeyMismatchError,
        sign(body=b"signal_id=" + SIGNAL_ID.encode()),
        body=b"signal_id=" + SIGNAL_ID.encode(),
    ),
    BadCase(
        "body a JSON array",
        IdempotencyKeyMismatchError,
        sign(body=b'["' + SIGNAL_ID.encode() + b'"]'),
        body=b'["' + SIGNAL_ID.encode() + b'"]',
    ),
    BadCase(
        "body without signal_id",
        IdempotencyKeyMismatchError,
        sign(body=b'{"instrument":"EURUSD"}'),
        body=b'{"instrument":"EURUSD"}',
    ),
    BadCase(
        "signal_id not a string",
        IdempotencyKeyMismatchError,
        sign(body=b'{"signal_id":7}', signal_id="7"),
        body=b'{"signal_id":7}',
    ),
]


@pytest.mark.parametrize("case", BAD_CASES, ids=[case.name for case in BAD_CASES])
def test_each_bad_request_is_rejected_with_its_own_error(
    verifier: SignatureVerifier, clock: FakeClock, case: BadCase
) -> None:
    """Each documented bad case raises its own VerificationError, whose text has no secret."""
    clock.now = T0 + case.seconds_after_signing

    with pytest.raises(VerificationError) as caught:
        verifier.verify(method=case.method, path=case.path, headers=case.headers, body=case.body)

    assert type(caught.value) is case.error
    assert caught.value.reason == case.error.code
    for text in (str(caught.value), repr(caught.value), repr(caught.value.__cause__)):
        assert SECRET not in text
        assert SECRET[:16] not in text


def test_every_rejection_has_its_own_code() -> None:
    """Every VerificationError subclass is exercised above and has a reason code of its own."""
    classes = {case.error for case in BAD_CASES} | {ReplayedSignatureError}

    assert classes == set(VerificationError.__subclasses__())
    assert len({error.code for error in classes}) == len(classes)
    assert all(issubclass(error, SigningError) for error in classes)


@pytest.mark.parametrize(
    ("headers", "seconds_after_signing", "error"),
    [
        (_with(sign(), X_Signature=None, X_Producer_Id="bad id"), 999.0, MissingHeaderError),
        (_with(sign(), X_Producer_Id="bad id", X_Timestamp="bad"), 0.0, ProducerIdError),
        (_with(sign(), X_Timestamp="bad", X_Signature="bad"), 0.0, MalformedTimestampError),
        (_with(sign(), X_Signature="bad"), 999.0, StaleTimestampError),
        (_with(sign(), X_Signature="bad"), -999.0, FutureTimestampError),
        (sign(secret="another-secret-value", signal_id="x"), 0.0, SignatureMismatchError),
    ],
)
def test_checks_run_in_the_documented_order(
    verifier: SignatureVerifier,
    clock: FakeClock,
    headers: dict[str, str],
    seconds_after_signing: float,
    error: type[VerificationError],
) -> None:
    """A request with several faults is rejected for the one checked first."""
    clock.now = T0 + seconds_after_signing

    with pytest.raises(error):
        verify(verifier, headers)


@pytest.mark.parametrize("seconds_after_signing", [300.0, 299.999, -60.0, -59.999, 0.0])
def test_window_edges_are_inside(
    verifier: SignatureVerifier, clock: FakeClock, seconds_after_signing: float
) -> None:
    """A timestamp exactly max_age old or exactly max_future ahead is still accepted."""
    clock.now = T0 + seconds_after_signing

    assert verify(verifier, sign()).signed_at == SIGNED_AT


def test_window_is_configurable(clock: FakeClock) -> None:
    """max_age_seconds and max_future_seconds move the edges of the window."""
    verifier = SignatureVerifier([SECRET], max_age_seconds=10, max_future_seconds=0, clock=clock)
    clock.now = T0 + 10.001
    with pytest.raises(StaleTimestampError, match="at most 10 s"):
        verify(verifier, sign())
    clock.now = T0 - 0.001
    with pytest.raises(FutureTimestampError, match="at most 0 s"):
        verify(verifier, sign())
    clock.now = T0 + 10
    assert verify(verifier, sign()).producer_id == PRODUCER


def test_accepts_a_request_signed_with_a_second_active_secret(clock: FakeClock) -> None:
    """With two active secrets, a request signed with either is accepted."""
    verifier = SignatureVerifier([SECRET, SECOND_SECRET], clock=clock)

    assert verify(verifier, sign(secret=SECOND_SECRET)).signal_id == SIGNAL_ID
    assert verify(verifier, sign(secret=SECRET, timestamp="2026-11-28T03:00:00.001Z")).signal_id


def test_set_secrets_rotates_the_active_secrets(verifier: SignatureVerifier) -> None:
    """After set_secrets, the new secret is accepted and the retired one is refused."""
    verifier.set_secrets([SECOND_SECRET])

    assert verify(verifier, sign(secret=SECOND_SECRET)).signal_id == SIGNAL_ID
    with pytest.raises(SignatureMismatchError):
        verify(verifier, sign(secret=SECRET, timestamp="2026-11-28T03:00:00.001Z"))


def test_replayed_signature_is_rejected(verifier: SignatureVerifier) -> None:
    """The same signed request presented twice inside the window is refused the second time."""
    verify(verifier, sign())

    with pytest.raises(ReplayedSignatureError) as caught:
        verify(verifier, sign())
    assert caught.value.code == "replayed_signature"


def test_a_replay_after_the_window_is_refused_as_stale(
    verifier: SignatureVerifier, clock: FakeClock
) -> None:
    """Once the window has passed, the old request is refused as stale, not as a replay."""
    verify(verifier, sign())
    clock.now = T0 + 300.001

    with pytest.raises(StaleTimestampError):
        verify(verifier, sign())


def test_a_rejected_request_is_not_remembered(verifier: SignatureVerifier) -> None:
    """A correctly signed request that fails a later check is refused again for that reason."""
    headers = sign(signal_id="00000000-0000-4000-8000-000000000000")

    for _ in range(2):
        with pytest.raises(IdempotencyKeyMismatchError):
            verify(verifier, headers)


def test_concurrent_copies_of_one_request_are_accepted_once(verifier: SignatureVerifier) -> None:
    """Of many threads presenting the same request at once, exactly one is accepted."""
    copies = 16
    start = threading.Barrier(copies)
    outcomes: list[str] = []
    lock = threading.Lock()

    def present() -> None:
        start.wait(timeout=10)
        try:
            verify(verifier, sign())
            outcome = "accepted"
        except ReplayedSignatureError:
            outcome = "replayed"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=present) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert sorted(outcomes) == ["accepted"] + ["replayed"] * (copies - 1)


def test_replay_cache_forgets_entries_after_they_expire() -> None:
    """A remembered signature is held up to and including its expiry, then forgotten."""
    cache = InMemoryReplayCache()

    assert cache.remember(b"a", expires_at=100.0, now=0.0)
    assert not cache.remember(b"a", expires_at=100.0, now=100.0)
    assert cache.remember(b"b", expires_at=300.0, now=100.001)
    assert len(cache) == 1
    assert cache.remember(b"a", expires_at=200.0, now=100.001)


def test_replay_cache_is_bounded() -> None:
    """At max_entries the entry closest to expiry makes room for the new one."""
    cache = InMemoryReplayCache(max_entries=2)
    cache.remember(b"late", expires_at=300.0, now=0.0)
    cache.remember(b"early", expires_at=100.0, now=0.0)

    assert cache.remember(b"new", expires_at=200.0, now=0.0)
    assert len(cache) == 2
    assert not cache.remember(b"late", expires_at=300.0, now=0.0)
    assert cache.remember(b"early", expires_at=100.0, now=0.0)


def test_verifier_uses_the_given_replay_cache(clock: FakeClock) -> None:
    """Two verifiers sharing one replay cache refuse each other's replays."""
    cache = InMemoryReplayCache()
    first = SignatureVerifier([SECRET], clock=clock, replay_cache=cache)
    second = SignatureVerifier([SECRET], clock=clock, replay_cache=cache)
    verify(first, sign())

    with pytest.raises(ReplayedSignatureError):
        verify(second, sign())
    assert len(cache) == 1


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ([], "at least one secret"),
        ([SECRET, SECRET[:15]], "secret #1: secret must be at least 16 bytes; got 15"),
        ([b"short"], "at least 16 bytes; got 5"),
        (SECRET, "a sequence of secrets"),
        (SECRET.encode(), "a sequence of secrets"),
    ],
)
def test_constructor_refuses_unusable_secrets(secrets: list[str | bytes], message: str) -> None:
    """No secrets, one under 16 bytes or a bare string raise ValueError without the secret."""
    with pytest.raises(SigningInputError, match=message) as caught:
        SignatureVerifier(secrets)

    assert isinstance(caught.value, ValueError)
    assert SECRET[:15] not in str(caught.value)


def test_set_secrets_refuses_unusable_secrets_and_keeps_the_old_ones(
    verifier: SignatureVerifier,
) -> None:
    """A failed set_secrets leaves the active secrets as they were."""
    with pytest.raises(SigningInputError):
        verifier.set_secrets([])

    assert verify(verifier, sign()).signal_id == SIGNAL_ID


@pytest.mark.parametrize(
    ("max_age_seconds", "max_future_seconds"),
    [(0, 60), (float("inf"), 60), (300, -1), (300, float("nan"))],
)
def test_constructor_refuses_a_nonsensical_window(
    max_age_seconds: float, max_future_seconds: float
) -> None:
    """max_age must be positive and finite, max_future non-negative and finite."""
    with pytest.raises(SigningInputError, match="seconds"):
        SignatureVerifier(
            [SECRET], max_age_seconds=max_age_seconds, max_future_seconds=max_future_seconds
        )


def test_repr_hides_the_secrets() -> None:
    """The verifier's repr counts the secrets but shows none of them."""
    verifier = SignatureVerifier([SECRET, SECOND_SECRET])

    text = repr(verifier)

    assert "2 redacted" in text
    assert SECRET not in text
    assert SECOND_SECRET.decode() not in text
