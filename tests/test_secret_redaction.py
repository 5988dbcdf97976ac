"""No secret ever shows: not in logs (DEBUG), errors, reprs, CLI output or alert payloads.

The secrets are distinctive strings; each check also looks for their base64 and hex forms.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import signal as signals
from collections.abc import Iterator
from pathlib import Path

import pytest
from alert_inbox import AlertInbox, Posted
from conftest import TopicFactory, eventually_async
from log_capture import json_lines
from relay_harness import (
    encode,
    end_offsets,
    publish,
    relay_env,
    relay_process,
    running_relay,
    signal,
)

from consumer.cli import main
from consumer.config import ConfigError, Secret, Settings, load_settings
from consumer.ops import Alerts, TelegramSink, WebhookSink
from consumer.tools import committed_offsets, ensure_topic
from signing.errors import SigningError
from signing.headers import signed_headers
from signing.receiver import (
    Faults,
    ReceiverApp,
    ReceiverConfig,
    ReceiverError,
    create_app,
    serve_in_thread,
)
from signing.signature import build_signature
from signing.timestamps import now_timestamp
from signing.verifier import SignatureVerifier

HMAC_SECRET = "hmac-S3CRET-never-shown-5f1c9a7e"
TELEGRAM_TOKEN = "987654:TELEGRAM-tok3n-never-shown_x9"
SASL_PASSWORD = "sasl-PASSW0RD-never-shown-44d1"
WEBHOOK_PATH = "/hooks/WEBHOOK-path-never-shown"
SHORT_SECRET = "short-S3CRET"
SECRETS = (HMAC_SECRET, TELEGRAM_TOKEN, SASL_PASSWORD, WEBHOOK_PATH, SHORT_SECRET)
CHAT_ID = "-100777"
_RELAY_PREFIXES = ("KAFKA_", "HMAC_", "ALERT_", "OUTBOUND_", "RELAY_", "PRODUCER_ID", "LOG_")


def forms(secret: str) -> list[str]:
    """The secret and the encodings a careless log line might use."""
    raw = secret.encode()
    return [secret, base64.b64encode(raw).decode(), raw.hex(), repr(raw)]


def assert_no_secret(text: str, where: str) -> None:
    """Fail naming `where` if any secret, in any of its forms, is in `text`."""
    for secret in SECRETS:
        for form in forms(secret):
            assert form not in text, f"{where} shows {secret!r} (as {form!r})"


def record_text(record: logging.LogRecord) -> str:
    """Everything a handler could print of a log record."""
    return " ".join(
        [
            record.getMessage(),
            repr(getattr(record, "fields", None)),
            logging.Formatter().formatException(record.exc_info) if record.exc_info else "",
            repr(record.args),
        ]
    )


@pytest.fixture
def receiver_app() -> Iterator[tuple[ReceiverApp, str]]:
    """A reference receiver accepting HMAC_SECRET."""
    app = create_app(ReceiverConfig(secrets=(HMAC_SECRET,)))
    with serve_in_thread(app) as url:
        yield app, url


@pytest.fixture
def inboxes() -> Iterator[tuple[AlertInbox, str, AlertInbox, str]]:
    """A hostile Telegram API (404 echoing the token) and a webhook endpoint."""
    telegram, webhook = AlertInbox(), AlertInbox()
    telegram.status = 404
    telegram.reply = json.dumps({"ok": False, "description": f"no bot {TELEGRAM_TOKEN}"}).encode()
    with serve_in_thread(telegram) as telegram_url, serve_in_thread(webhook) as webhook_url:
        yield telegram, telegram_url, webhook, webhook_url


def secret_env(
    bootstrap: str, topic: str, receiver_url: str, telegram_url: str, webhook_url: str
) -> dict[str, str]:
    """A relay environment holding every kind of secret, logging at DEBUG."""
    return relay_env(
        bootstrap,
        topic,
        receiver_url,
        HMAC_PRODUCER_SECRET=HMAC_SECRET,
        LOG_LEVEL="DEBUG",
        KAFKA_SASL_USERNAME="relay",
        KAFKA_SASL_PASSWORD=SASL_PASSWORD,
        ALERT_TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN,
        ALERT_TELEGRAM_CHAT_ID=CHAT_ID,
        ALERT_TELEGRAM_API_URL=telegram_url,
        ALERT_WEBHOOK_URL=webhook_url + WEBHOOK_PATH,
        ALERT_KEY_FAILURE_THRESHOLD=2,
        ALERT_SYSTEMIC_AFTER_SECONDS=0.1,
    )


def kinds(posts: list[Posted]) -> list[str]:
    """The kinds of the webhook alerts received."""
    return [str(p.body["kind"]) for p in posts]


async def test_a_relay_process_logging_at_debug_never_shows_a_secret(
    kafka_bootstrap: str,
    new_topic: TopicFactory,
    receiver_app: tuple[ReceiverApp, str],
    inboxes: tuple[AlertInbox, str, AlertInbox, str],
    tmp_path: Path,
) -> None:
    """Deliveries, retries, DLQ, a 401, alerts and a failing sink: every line JSON, no secret."""
    receiver, receiver_url = receiver_app
    telegram, telegram_url, webhook, webhook_url = inboxes
    topic = await new_topic(1)
    await ensure_topic(kafka_bootstrap, f"{topic}.dlq")
    receiver.faults = Faults(status_by_instrument={"REJECT": 422, "FLAKY": 503})
    published = await publish(
        kafka_bootstrap,
        topic,
        [
            (b"A", encode(signal("A", 0))),
            (b"REJECT", encode(signal("REJECT", 1))),
            (b"BAD", b"{not json"),
            (b"FLAKY", encode(signal("FLAKY", 2))),
            (b"A", encode(signal("A", 3))),
        ],
    )
    env = secret_env(kafka_bootstrap, topic, receiver_url, telegram_url, webhook_url)
    log_path = tmp_path / "relay.log"
    group = env["KAFKA_GROUP_ID"]

    with relay_process(env, log_path) as process:
        await webhook.wait_for(lambda posts: "key_failing" in kinds(posts), 60)
        receiver.verifier.set_secrets(["a-different-secret-0123456789"])
        await webhook.wait_for(lambda posts: "systemic_failure" in kinds(posts), 30)
        receiver.verifier.set_secrets([HMAC_SECRET])
        receiver.faults = Faults(status_by_instrument={"REJECT": 422})
        await webhook.wait_for(lambda posts: "systemic_resolved" in kinds(posts), 30)
        expected = end_offsets(published)

        async def all_committed() -> bool:
            return await committed_offsets(kafka_bootstrap, group, topic) == expected

        await eventually_async(all_committed, 30, "every offset committed")
        process.send_signal(signals.SIGTERM)
        assert await asyncio.to_thread(process.wait, 30) == 0

    output = log_path.read_text()
    lines = json_lines(output)  # every line, aiokafka's and httpx's included
    assert {line["service"] for line in lines} == {"signal-relay"}
    events = [line["event"] for line in lines]
    for event in ("delivered", "retry", "dead_lettered", "systemic_failure", "alert_send_failed"):
        assert event in events, f"the run never logged {event}"
    assert_no_secret(output, "the relay's log")
    for posted in telegram.posts + webhook.posts:
        assert_no_secret(json.dumps(posted.body), f"the alert posted to {posted.path}")
    assert {p.path for p in telegram.posts} == {f"/bot{TELEGRAM_TOKEN}/sendMessage"}


async def test_an_in_process_relay_never_logs_a_secret_even_from_libraries(
    kafka_bootstrap: str,
    new_topic: TopicFactory,
    receiver_app: tuple[ReceiverApp, str],
    inboxes: tuple[AlertInbox, str, AlertInbox, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With every logger at DEBUG (httpx logs each request URL), no record holds a secret."""
    caplog.set_level(logging.DEBUG)
    receiver, receiver_url = receiver_app
    telegram, telegram_url, webhook, webhook_url = inboxes
    topic = await new_topic(1)
    await ensure_topic(kafka_bootstrap, f"{topic}.dlq")
    receiver.faults = Faults(status_by_instrument={"REJECT": 422})
    published = await publish(
        kafka_bootstrap,
        topic,
        [(b"A", encode(signal("A", 0))), (b"REJECT", encode(signal("REJECT", 1)))],
    )
    receiver.verifier.set_secrets(["a-different-secret-0123456789"])
    settings = load_settings(
        secret_env(kafka_bootstrap, topic, receiver_url, telegram_url, webhook_url)
    )

    async with running_relay(settings):
        await telegram.wait_for(lambda posts: len(posts) == 1, 30)
        receiver.verifier.set_secrets([HMAC_SECRET])
        await webhook.wait_for(lambda posts: "systemic_resolved" in kinds(posts), 30)
        expected = end_offsets(published)

        async def all_committed() -> bool:
            return await committed_offsets(kafka_bootstrap, settings.group_id, topic) == expected

        await eventually_async(all_committed, 30, "every offset committed")

    url_logs = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert any("/bot***/sendMessage" in line for line in url_logs), url_logs
    assert any(r.getMessage() == "alert_send_failed" for r in caplog.records)
    for record in caplog.records:
        assert_no_secret(record_text(record), f"log record {record.name}:{record.getMessage()}")


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"HMAC_PRODUCER_SECRET": SHORT_SECRET}, "HMAC_PRODUCER_SECRET"),
        ({"HMAC_PRODUCER_SECRET_FILE": "/nonexistent/secret"}, "HMAC_PRODUCER_SECRET"),
        ({"OUTBOUND_TIMEOUT_SECONDS": "soon"}, "OUTBOUND_TIMEOUT_SECONDS"),
        ({"ALERT_TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN + "/x"}, "ALERT_TELEGRAM_BOT_TOKEN"),
        ({"ALERT_TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN}, "ALERT_TELEGRAM_CHAT_ID"),
        ({"ALERT_WEBHOOK_URL": "hooks.example.com" + WEBHOOK_PATH}, "ALERT_WEBHOOK_URL"),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "KAFKA_SASL_MECHANISM"),
        ({"KAFKA_SASL_PASSWORD_FILE": "/nonexistent/pw"}, "KAFKA_SASL_PASSWORD"),
    ],
)
def test_configuration_errors_exit_2_without_a_secret(
    env: dict[str, str],
    variable: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`signal-relay run` with a bad setting: exit 2, one line naming it, no secret."""
    full = {
        "HMAC_PRODUCER_SECRET": HMAC_SECRET,
        "PRODUCER_ID": "desk-1",
        "OUTBOUND_SERVER_URL": "https://signals.example.com",
        "KAFKA_SASL_PASSWORD": SASL_PASSWORD,
        **env,
    }
    for name in list(os.environ):
        if name.startswith(_RELAY_PREFIXES):
            monkeypatch.delenv(name)
    if "HMAC_PRODUCER_SECRET_FILE" in env:
        del full["HMAC_PRODUCER_SECRET"]
    if "KAFKA_SASL_PASSWORD_FILE" in env:
        del full["KAFKA_SASL_PASSWORD"]
    for name, value in full.items():
        monkeypatch.setenv(name, value)

    assert main(["run"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"signal-relay: {variable}")
    assert err.count("\n") == 1
    assert_no_secret(out + err, "the exit-2 output")


def settings_with_every_secret() -> Settings:
    """Settings holding the HMAC secret, a SASL password, a Telegram token and a webhook."""
    return load_settings(
        {
            "HMAC_PRODUCER_SECRET": HMAC_SECRET,
            "PRODUCER_ID": "desk-1",
            "OUTBOUND_SERVER_URL": "https://signals.example.com",
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "KAFKA_SASL_USERNAME": "relay",
            "KAFKA_SASL_PASSWORD": SASL_PASSWORD,
            "ALERT_TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            "ALERT_TELEGRAM_CHAT_ID": CHAT_ID,
            "ALERT_WEBHOOK_URL": "https://hooks.example.com" + WEBHOOK_PATH,
        }
    )


async def test_reprs_never_show_a_secret() -> None:
    """Settings and every object holding a secret print redacted, nested or not."""
    settings = settings_with_every_secret()
    alerts = Alerts.from_settings(settings)
    telegram = TelegramSink(
        "https://api.telegram.org",
        Secret(TELEGRAM_TOKEN.encode()),
        CHAT_ID,
        producer_id="desk-1",
        timeout=5,
    )
    webhook = WebhookSink(
        Secret(f"https://hooks.example.com{WEBHOOK_PATH}".encode()), producer_id="desk-1", timeout=5
    )
    receiver_config = ReceiverConfig(secrets=(HMAC_SECRET, "second-secret-0123456789"))
    shown = [
        repr(settings),
        str(settings),
        f"{settings}",
        repr(settings.model_dump()),
        repr(settings.kafka_security),
        repr(settings.alerts),
        repr(Secret(HMAC_SECRET.encode())),
        str(Secret(HMAC_SECRET.encode())),
        repr(receiver_config),
        repr(create_app(receiver_config)),
        repr(SignatureVerifier([HMAC_SECRET])),
        repr(alerts),
        repr(telegram),
        repr(webhook),
    ]
    await alerts.close()
    await telegram.aclose()
    await webhook.aclose()
    assert "redacted" in shown[8]
    for text in shown:
        assert_no_secret(text, text[:60])


def test_verification_errors_never_show_a_secret() -> None:
    """Every rejection the verifier raises, and every bad-secret error, is free of secrets."""
    verifier = SignatureVerifier([HMAC_SECRET, "second-secret-0123456789"])
    body = b'{"signal_id":"abc"}'
    good = signed_headers(
        HMAC_SECRET,
        body,
        signal_id="abc",
        producer_id="desk-1",
        endpoint="/api/v1/signals/ingest",
        timestamp=now_timestamp(),
    )
    tampered = [
        {},
        {**good, "X-Signature": "not base64!"},
        {**good, "X-Signature": base64.b64encode(b"x" * 32).decode()},
        {**good, "X-Timestamp": "2001-01-01T00:00:00.000Z"},
        {**good, "X-Timestamp": "yesterday"},
        {**good, "X-Producer-Id": "bad id"},
        {**good, "X-Idempotency-Key": "other"},
    ]
    errors: list[Exception] = []
    for headers in tampered:
        with pytest.raises(SigningError) as caught:
            verifier.verify(
                method="POST", path="/api/v1/signals/ingest", headers=headers, body=body
            )
        errors.append(caught.value)
    verifier.verify(method="POST", path="/api/v1/signals/ingest", headers=good, body=body)
    with pytest.raises(SigningError) as replayed:
        verifier.verify(method="POST", path="/api/v1/signals/ingest", headers=good, body=body)
    errors.append(replayed.value)
    for make in (
        lambda: SignatureVerifier([SHORT_SECRET]),
        lambda: build_signature(SHORT_SECRET, body, now_timestamp(), "desk-1"),
        lambda: ReceiverConfig(secrets=(HMAC_SECRET, SHORT_SECRET)),
        lambda: load_settings({"HMAC_PRODUCER_SECRET": SHORT_SECRET, "PRODUCER_ID": "desk-1"}),
    ):
        with pytest.raises((SigningError, ReceiverError, ConfigError)) as caught_bad:
            make()
        errors.append(caught_bad.value)
    assert len(errors) == 12
    for error in errors:
        assert_no_secret(f"{error!s} {error!r} {error.__cause__!r}", type(error).__name__)
