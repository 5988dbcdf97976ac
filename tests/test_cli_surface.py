"""The command line's surface: every command documents itself; usage and config errors exit 2."""

import os
import subprocess
import sys

import pytest

from consumer.cli import main

COMMANDS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("run",): (),
    ("check",): ("--timeout",),
    ("schema",): (),
    ("receiver",): ("--host", "--port", "--path", "--secret-file", "--capture"),
    ("publish",): ("FILE|-", "--topic", "--bootstrap", "--allow-invalid", "--max-size"),
    ("verify",): (
        "--secret-file",
        "--body",
        "--timestamp",
        "--producer-id",
        "--signature",
        "--idempotency-key",
        "--method",
        "--path",
        "--max-age",
        "--no-freshness",
        "--profile",
    ),
    ("dlq",): ("replay",),
    ("dlq", "replay"): (
        "--dlq-topic",
        "--reason",
        "--since",
        "--until",
        "--signal-id",
        "--to",
        "--dry-run",
        "--rate",
        "--limit",
    ),
    ("demo",): ("--signals", "--rate", "--duration", "--keep-running", "--verbose"),
}


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "consumer", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(("command", "options"), list(COMMANDS.items()))
def test_every_command_has_help_naming_its_options(
    command: tuple[str, ...], options: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    """`COMMAND --help` exits 0 and shows a description and every option of the command."""
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert shown.startswith(f"usage: signal-relay {' '.join(command)}")
    for option in options:
        assert option in shown
    if command != ("dlq",):
        assert "examples:" in shown


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    """`--help` names every command of docs/PROTOCOL.md §11."""
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    for command in ("run", "check", "publish", "demo", "receiver", "verify", "schema", "dlq"):
        assert command in shown


def test_unknown_command_exits_2_with_one_line() -> None:
    """An unknown command is a usage error: exit 2, one line on stderr, nothing on stdout."""
    done = _cli("frobnicate", env=dict(os.environ))
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    assert "frobnicate" in done.stderr


def test_bad_option_value_exits_2_with_one_line() -> None:
    """A malformed option value is a usage error naming the option, as one line."""
    done = _cli("dlq", "replay", "--since", "yesterday", env=dict(os.environ))
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1
    assert "--since" in done.stderr


def test_bad_config_exits_2_with_one_line_naming_the_variable() -> None:
    """`run` without PRODUCER_ID stops at start-up: exit 2, one line naming the variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRODUCER", "HMAC_"))}
    env |= {
        "HMAC_PRODUCER_SECRET": "surface-secret-0123456789",
        "OUTBOUND_SERVER_URL": "http://127.0.0.1:9",
    }
    done = _cli("run", env=env)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert "PRODUCER_ID" in line
    assert "Traceback" not in done.stderr
    assert "surface-secret" not in done.stderr


def test_missing_secret_for_verify_exits_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`verify` with no secret anywhere is a config error naming HMAC_PRODUCER_SECRET."""
    monkeypatch.delenv("HMAC_PRODUCER_SECRET", raising=False)
    monkeypatch.delenv("HMAC_PRODUCER_SECRET_FILE", raising=False)
    code = main(
        [
            "verify",
            "--body",
            os.devnull,
            "--timestamp",
            "2026-11-28T03:00:00.123Z",
            "--producer-id",
            "desk-1",
            "--signature",
            "AAAA",
        ]
    )
    assert code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "HMAC_PRODUCER_SECRET" in line
