"""Start-up reports every configuration problem at once, one line each, never echoing a value."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from consumer.config import ConfigError, Problem, load_settings, variables

SECRET = "problems-secret-0123456789"
BASE = {
    "HMAC_PRODUCER_SECRET": SECRET,
    "PRODUCER_ID": "desk-1",
    "OUTBOUND_SERVER_URL": "https://signals.example.com",
}
# Looks like a credential and is wrong for every variable: a space, a quote, an @.
LEAK = "Tr0ub4dor&3 'leak-4f9c'@corp"
REPO = Path(__file__).resolve().parent.parent


def problems(env: dict[str, str]) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    error = caught.value
    assert str(error).splitlines() == [str(problem) for problem in error.problems]
    assert (error.variable, error.problem) == (
        error.problems[0].variable,
        error.problems[0].problem,
    )
    return list(error.problems)


def test_independent_problems_are_all_reported() -> None:
    """Problems in different variables and groups come together, in declaration order."""
    found = problems(
        {
            **{k: v for k, v in BASE.items() if k != "PRODUCER_ID"},
            "OUTBOUND_TIMEOUT_SECONDS": "1",
            "KAFKA_TOPIC": "bad topic!",
            "RELAY_MAX_IN_FLIGHT": "lots",
            "RELAY_RETRY_AFTER_CAP_SECONDS": "nan",
            "KAFKA_SECURITY_PROTOCOL": "TLS",
            "ALERT_MAX_PER_HOUR": "0",
        }
    )
    assert [str(problem) for problem in found] == [
        "PRODUCER_ID: is required",
        "OUTBOUND_TIMEOUT_SECONDS: must be at least 5",
        "KAFKA_TOPIC: must be a Kafka topic name: 1-249 of A-Z a-z 0-9 . _ - (and not . or ..)",
        "RELAY_MAX_IN_FLIGHT: must be a number",
        "RELAY_RETRY_AFTER_CAP_SECONDS: must be a finite number",
        "KAFKA_SECURITY_PROTOCOL: must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL",
        "ALERT_MAX_PER_HOUR: must be at least 1",
    ]


def test_a_rule_between_valid_variables_is_reported_beside_other_problems() -> None:
    """A rule between two valid variables is checked even when an unrelated one is bad."""
    found = problems(
        {
            **BASE,
            "OUTBOUND_MAX_BODY_SIZE": "12",
            "KAFKA_HEARTBEAT_INTERVAL_MS": "5000",
            "RELAY_REVOKE_GRACE_SECONDS": "58",
            "RELAY_RETRY_BASE_SECONDS": "10",
            "RELAY_RETRY_MAX_SECONDS": "5",
            "ALERT_TELEGRAM_CHAT_ID": "100",
        }
    )
    assert [problem.variable for problem in found] == [
        "OUTBOUND_MAX_BODY_SIZE",
        "KAFKA_HEARTBEAT_INTERVAL_MS",
        "RELAY_REVOKE_GRACE_SECONDS",
        "RELAY_RETRY_BASE_SECONDS",
        "ALERT_TELEGRAM_BOT_TOKEN",
    ]


def test_a_rule_is_not_reported_on_top_of_its_bad_input() -> None:
    """A variable that is itself refused triggers no second problem in the rules that use it."""
    found = problems({**BASE, "KAFKA_TOPIC": "t" * 250, "KAFKA_SESSION_TIMEOUT_MS": "x"})
    assert [problem.variable for problem in found] == ["KAFKA_TOPIC", "KAFKA_SESSION_TIMEOUT_MS"]


def test_no_value_is_ever_echoed() -> None:
    """A secret-like value in every variable is refused without showing it or pydantic's text."""
    env = {variable.name: LEAK for variable in variables()}
    found = problems(env)
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    shown = f"{caught.value!s} {caught.value!r} {caught.value.__cause__!r}"
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__
    for fragment in (
        LEAK,
        "Tr0ub4dor",
        "leak-4f9c",
        "input_value",
        "pydantic",
        "Input should",
        "Value error",
    ):
        assert fragment not in shown
    accepted = {"HMAC_PRODUCER_SECRET", "KAFKA_GROUP_ID", "KAFKA_SASL_USERNAME"}
    accepted.add("KAFKA_SASL_PASSWORD")  # free text: the value is a fine secret or name
    assert {problem.variable for problem in found} == {v.name for v in variables()} - accepted


def test_the_cli_prints_every_problem_on_its_own_line() -> None:
    """`signal-relay run` prints one `signal-relay: VARIABLE: problem` line per problem; exit 2."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HMAC_PRODUCER_SECRET": "short-" + LEAK,
        "OUTBOUND_SERVER_URL": f"https://relay:{LEAK}@signals.example.com",
        "RELAY_METRICS_PORT": "99999",
    }
    done = subprocess.run(
        [sys.executable, "-m", "consumer", "run"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "signal-relay: PRODUCER_ID: is required",
        "signal-relay: OUTBOUND_SERVER_URL: must be an http(s) base URL: printable ASCII only, "
        "no spaces or control characters (percent-encode them; write an international host "
        "name as xn--)",
        "signal-relay: RELAY_METRICS_PORT: must be at most 65535",
    ]
    assert "leak-4f9c" not in done.stderr
