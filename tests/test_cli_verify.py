"""`signal-relay verify`: a captured request is judged exactly as the server would judge it."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from consumer.cli import main
from schemas.record import parse_candidate
from signing.canonical import canonical_body
from signing.headers import signed_headers
from signing.timestamps import format_timestamp

SECRET = "verify-secret-0123456789abcdef"
OTHER_SECRET = "another-secret-0123456789abcdef"
PATH = "/api/v1/signals/ingest"
PRODUCER = "desk-1"


def _capture(tmp_path: Path, *, signed_at: datetime | None = None) -> tuple[list[str], Path]:
    """A request signed with SECRET: the verify arguments (minus secrets) and its body file."""
    raw = b'{"instrument":"EURUSD","side":"buy","entry_price":"1.0850","confidence":"0.7"}'
    signal = canonical_body(parse_candidate(raw))
    timestamp = format_timestamp(signed_at or datetime.now(UTC))
    headers = signed_headers(
        SECRET,
        signal.body,
        signal_id=signal.signal_id,
        producer_id=PRODUCER,
        endpoint=PATH,
        timestamp=timestamp,
    )
    body = tmp_path / "body.json"
    body.write_bytes(signal.body)
    args = [
        "verify",
        "--body",
        str(body),
        "--timestamp",
        timestamp,
        "--producer-id",
        PRODUCER,
        "--signature",
        headers["X-Signature"],
        "--idempotency-key",
        signal.signal_id,
        "--path",
        PATH,
    ]
    return args, body


def _secret_file(tmp_path: Path, secret: str) -> list[str]:
    path = tmp_path / f"secret-{len(list(tmp_path.iterdir()))}"
    path.write_text(secret + "\n")
    return ["--secret-file", str(path)]


def _verify(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err
    assert OTHER_SECRET not in captured.out + captured.err
    return code, captured.out


def test_valid_request_prints_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A request signed with an active secret is `valid`, exit 0."""
    args, _ = _capture(tmp_path)
    code, out = _verify([*args, *_secret_file(tmp_path, SECRET)], capsys)
    assert (code, out) == (0, "valid\n")


def test_any_of_several_secrets_is_enough(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With several --secret-file (rotation), a signature by any of them is valid."""
    args, _ = _capture(tmp_path)
    secrets = [*_secret_file(tmp_path, OTHER_SECRET), *_secret_file(tmp_path, SECRET)]
    code, out = _verify([*args, *secrets], capsys)
    assert (code, out) == (0, "valid\n")


def test_secret_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --secret-file the secret comes from HMAC_PRODUCER_SECRET."""
    monkeypatch.setenv("HMAC_PRODUCER_SECRET", SECRET)
    args, _ = _capture(tmp_path)
    assert _verify(args, capsys) == (0, "valid\n")


def test_tampered_body_is_a_signature_mismatch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One changed byte in the body: `invalid: signature_mismatch: ...`, exit 1."""
    args, body = _capture(tmp_path)
    body.write_bytes(body.read_bytes().replace(b"1.0850", b"1.0851"))
    code, out = _verify([*args, *_secret_file(tmp_path, SECRET)], capsys)
    assert code == 1
    assert out.startswith("invalid: signature_mismatch: ")


def test_wrong_secret_is_a_signature_mismatch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Checked against another secret: `invalid: signature_mismatch`, exit 1."""
    args, _ = _capture(tmp_path)
    code, out = _verify([*args, *_secret_file(tmp_path, OTHER_SECRET)], capsys)
    assert code == 1
    assert out.startswith("invalid: signature_mismatch: ")


def test_stale_timestamp_is_rejected_unless_freshness_is_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 10-minute-old capture is `stale_timestamp`; with --no-freshness it is valid."""
    args, _ = _capture(tmp_path, signed_at=datetime.now(UTC) - timedelta(minutes=10))
    args += _secret_file(tmp_path, SECRET)
    code, out = _verify(args, capsys)
    assert code == 1
    assert out.startswith("invalid: stale_timestamp: ")
    assert _verify([*args, "--no-freshness"], capsys) == (0, "valid\n")
    assert _verify([*args, "--max-age", "900"], capsys) == (0, "valid\n")


def test_wrong_idempotency_key_is_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An X-Idempotency-Key other than the body's signal_id: `idempotency_key_mismatch`."""
    args, _ = _capture(tmp_path)
    args[args.index("--idempotency-key") + 1] = "00000000-0000-4000-8000-000000000000"
    code, out = _verify([*args, *_secret_file(tmp_path, SECRET)], capsys)
    assert code == 1
    assert out.startswith("invalid: idempotency_key_mismatch: ")


def test_short_secret_is_a_usage_error_without_the_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A secret under 16 bytes: exit 2, one line that gives its length, not its value."""
    args, _ = _capture(tmp_path)
    code = main([*args, *_secret_file(tmp_path, "tiny-secret")])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "tiny-secret" not in err


def test_body_from_stdin(tmp_path: Path) -> None:
    """`--body -` reads the body from stdin (a real process, real stdin)."""
    args, body = _capture(tmp_path)
    args[args.index("--body") + 1] = "-"
    done = subprocess.run(
        [sys.executable, "-m", "consumer", *args, *_secret_file(tmp_path, SECRET)],
        input=body.read_bytes(),
        capture_output=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("HMAC_")},
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, b"valid\n")
    assert SECRET.encode() not in done.stdout + done.stderr
