"""Alerts: when they fire (threshold, persistence, recovery), rate limits, and what the sinks POST.

`AlertInbox` (tests/alert_inbox.py) is a real HTTP endpoint on loopback that plays both the
Telegram Bot API and a generic webhook.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from alert_inbox import AlertInbox, Posted
from conftest import RunningReceiver, TopicFactory, eventually, eventually_async
from relay_harness import (
    SECRET,
    encode,
    end_offsets,
    publish,
    relay_env,
    running_relay,
    signal,
)

from consumer.config import AlertSettings, ConfigError, Secret, load_settings
from consumer.ops import (
    Alert,
    AlertRateLimiter,
    Alerts,
    AlertSendError,
    TelegramSink,
    WebhookSink,
    alert_text,
)
from consumer.tools import committed_offsets, ensure_topic
from signing.receiver import Faults
from signing.receiver.serve import serve_in_thread

TOKEN = "123456:TOKEN-alerts-test_abcdef"
CHAT_ID = "-1001234"
BASE = {
    "HMAC_PRODUCER_SECRET": SECRET,
    "PRODUCER_ID": "desk-1",
    "OUTBOUND_SERVER_URL": "https://signals.example.com",
}


@dataclass(frozen=True, slots=True)
class RunningInbox:
    """An inbox being served, and its base URL."""

    app: AlertInbox
    url: str


@pytest.fixture
def inbox() -> Iterator[RunningInbox]:
    """A fresh alert inbox on a free loopback port."""
    app = AlertInbox()
    try:
        with serve_in_thread(app) as url:
            yield RunningInbox(app, url)
    finally:
        app.release.set()


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sinks_for(inbox: RunningInbox) -> tuple[TelegramSink, WebhookSink]:
    """The two sinks, pointed at the inbox."""
    telegram = TelegramSink(
        inbox.url, Secret(TOKEN.encode()), CHAT_ID, producer_id="desk-1", timeout=5
    )
    return telegram, WebhookSink(
        Secret(f"{inbox.url}/hook".encode()), producer_id="desk-1", timeout=5
    )


def record(key: bytes | None = b"EURUSD", offset: int = 7) -> ConsumerRecord[bytes, bytes]:
    """A consumed record, as aiokafka hands it over."""
    return ConsumerRecord(
        topic="signals",
        partition=2,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=b"{}",
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=2,
        headers=(),
    )


def sample_alert() -> Alert:
    """A key_failing alert as the relay raises it."""
    return Alert(
        kind="key_failing",
        key="signals/2/EURUSD",
        summary="key EURUSD has failed 10 attempts: HTTP 503",
        severity="warning",
        fields={"partition": 2, "attempts": 10, "last_error": "HTTP 503", "none": None},
        at=1_790_000_000.5,
    )


# -- the rate limiter ---------------------------------------------------------------------


def test_one_alert_per_kind_and_key_per_interval() -> None:
    """A repeat of the same (kind, key) is held back until the interval has passed."""
    clock = FakeClock()
    limiter = AlertRateLimiter(300, 100, clock=clock)
    assert limiter.allow("key_failing", "A")
    assert not limiter.allow("key_failing", "A")
    assert limiter.allow("key_failing", "B")
    assert limiter.allow("systemic_failure", "A")
    clock.now += 299.9
    assert not limiter.allow("key_failing", "A")
    clock.now += 0.1
    assert limiter.allow("key_failing", "A")


def test_global_cap_holds_every_alert_for_the_rest_of_the_hour() -> None:
    """Past `max_per_hour`, no alert goes out until the oldest is an hour old."""
    clock = FakeClock()
    limiter = AlertRateLimiter(0, 3, clock=clock)
    for n in range(3):
        assert limiter.allow("key_failing", f"K{n}")
        clock.now += 10
    assert not limiter.allow("key_failing", "new")
    clock.now = 1000.0 + 3599
    assert not limiter.allow("key_failing", "new")
    clock.now = 1000.0 + 3600
    assert limiter.allow("key_failing", "new")
    assert not limiter.allow("key_failing", "newer")


# -- configuration ------------------------------------------------------------------------


def test_alert_settings_default_to_no_sinks() -> None:
    """Without ALERT_* variables there is no sink and the documented defaults hold."""
    alerts = load_settings(BASE).alerts
    assert alerts == AlertSettings()
    assert alerts.telegram_bot_token is None
    assert alerts.webhook_url is None
    assert (alerts.systemic_after_seconds, alerts.key_failure_threshold) == (60.0, 10)
    assert alerts.min_interval_seconds == 300.0
    assert alerts.telegram_api_url == "https://api.telegram.org"
    assert not Alerts.from_settings(load_settings(BASE)).enabled


def test_alert_settings_are_read_from_the_environment(tmp_path: Any) -> None:
    """Every ALERT_* variable is read; the token may come from a file."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    alerts = load_settings(
        {
            **BASE,
            "ALERT_TELEGRAM_BOT_TOKEN_FILE": str(token_file),
            "ALERT_TELEGRAM_CHAT_ID": CHAT_ID,
            "ALERT_TELEGRAM_API_URL": "http://127.0.0.1:9/",
            "ALERT_WEBHOOK_URL": "https://hooks.example.com/T0/B0/xyz",
            "ALERT_SYSTEMIC_AFTER_SECONDS": "30",
            "ALERT_KEY_FAILURE_THRESHOLD": "5",
            "ALERT_MIN_INTERVAL_SECONDS": "60",
            "ALERT_MAX_PER_HOUR": "7",
            "ALERT_TIMEOUT_SECONDS": "3",
        }
    ).alerts
    assert alerts.telegram_bot_token == Secret(TOKEN.encode())
    assert alerts.telegram_chat_id == CHAT_ID
    assert alerts.telegram_api_url == "http://127.0.0.1:9"
    assert alerts.webhook_url == Secret(b"https://hooks.example.com/T0/B0/xyz")
    assert (alerts.systemic_after_seconds, alerts.key_failure_threshold) == (30.0, 5)
    assert (alerts.min_interval_seconds, alerts.max_per_hour, alerts.timeout_seconds) == (
        60.0,
        7,
        3.0,
    )


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"ALERT_TELEGRAM_BOT_TOKEN": TOKEN}, "ALERT_TELEGRAM_CHAT_ID"),
        ({"ALERT_TELEGRAM_CHAT_ID": CHAT_ID}, "ALERT_TELEGRAM_BOT_TOKEN"),
        (
            {"ALERT_TELEGRAM_BOT_TOKEN": TOKEN + "/../x", "ALERT_TELEGRAM_CHAT_ID": "1"},
            "ALERT_TELEGRAM_BOT_TOKEN",
        ),
        (
            {"ALERT_TELEGRAM_BOT_TOKEN": TOKEN, "ALERT_TELEGRAM_BOT_TOKEN_FILE": "/x"},
            "ALERT_TELEGRAM_BOT_TOKEN",
        ),
        ({"ALERT_WEBHOOK_URL": "ftp://hooks/" + TOKEN}, "ALERT_WEBHOOK_URL"),
        ({"ALERT_TELEGRAM_API_URL": "api.telegram.org"}, "ALERT_TELEGRAM_API_URL"),
        ({"ALERT_KEY_FAILURE_THRESHOLD": "-1"}, "ALERT_KEY_FAILURE_THRESHOLD"),
        ({"ALERT_SYSTEMIC_AFTER_SECONDS": "later"}, "ALERT_SYSTEMIC_AFTER_SECONDS"),
        ({"ALERT_MAX_PER_HOUR": "0"}, "ALERT_MAX_PER_HOUR"),
    ],
)
def test_bad_alert_settings_name_their_variable(env: dict[str, str], variable: str) -> None:
    """A bad or incomplete alert setting names its variable and never echoes the token."""
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, **env})
    assert caught.value.variable == variable
    assert TOKEN not in str(caught.value)


# -- the sinks ----------------------------------------------------------------------------


def test_alert_text_is_one_readable_message() -> None:
    """The text names severity, producer and kind, then the summary, the fields and the time."""
    text = alert_text(sample_alert(), "desk-1")
    assert text.splitlines() == [
        "[WARNING] signal-relay desk-1: key_failing",
        "key EURUSD has failed 10 attempts: HTTP 503",
        "partition: 2",
        "attempts: 10",
        "last_error: HTTP 503",
        "at: 2026-09-21T14:13:20.500Z",
    ]


async def test_telegram_sink_calls_send_message_with_chat_and_text(inbox: RunningInbox) -> None:
    """POST {api}/bot{token}/sendMessage with JSON {chat_id, text}."""
    telegram, webhook = sinks_for(inbox)
    try:
        await telegram.send(sample_alert())
    finally:
        await telegram.aclose()
        await webhook.aclose()
    (posted,) = inbox.app.posts
    assert posted.path == f"/bot{TOKEN}/sendMessage"
    assert posted.body == {"chat_id": CHAT_ID, "text": alert_text(sample_alert(), "desk-1")}


async def test_webhook_sink_posts_the_alert_as_flat_json(inbox: RunningInbox) -> None:
    """POST the webhook URL with {kind, key, summary, severity, fields..., producer_id, at}."""
    telegram, webhook = sinks_for(inbox)
    try:
        await webhook.send(sample_alert())
    finally:
        await telegram.aclose()
        await webhook.aclose()
    (posted,) = inbox.app.posts
    assert posted.path == "/hook"
    assert posted.body == {
        "kind": "key_failing",
        "key": "signals/2/EURUSD",
        "summary": "key EURUSD has failed 10 attempts: HTTP 503",
        "severity": "warning",
        "partition": 2,
        "attempts": 10,
        "last_error": "HTTP 503",
        "none": None,
        "producer_id": "desk-1",
        "at": "2026-09-21T14:13:20.500Z",
    }


async def test_a_refusing_sink_raises_without_the_token(inbox: RunningInbox) -> None:
    """A non-2xx answer is an AlertSendError; a token echoed by the server is redacted."""
    inbox.app.status = 404
    inbox.app.reply = f'{{"ok":false,"description":"no bot {TOKEN} at /bot{TOKEN}"}}'.encode()
    telegram, webhook = sinks_for(inbox)
    try:
        with pytest.raises(AlertSendError) as caught:
            await telegram.send(sample_alert())
    finally:
        await telegram.aclose()
        await webhook.aclose()
    assert str(caught.value).startswith("telegram: HTTP 404")
    assert "no bot ***" in str(caught.value)
    assert TOKEN not in str(caught.value)


# -- deciding when to alert ---------------------------------------------------------------


async def test_a_key_alerts_once_its_record_reaches_the_threshold(inbox: RunningInbox) -> None:
    """Below the threshold nothing; at it one alert per sink; repeats are rate-limited."""
    alerts = Alerts.from_settings(
        load_settings(
            {
                **BASE,
                "ALERT_TELEGRAM_BOT_TOKEN": TOKEN,
                "ALERT_TELEGRAM_CHAT_ID": CHAT_ID,
                "ALERT_TELEGRAM_API_URL": inbox.url,
                "ALERT_WEBHOOK_URL": f"{inbox.url}/hook",
                "ALERT_KEY_FAILURE_THRESHOLD": "3",
            }
        )
    )
    alerts.start()
    try:
        for attempt in range(1, 3):
            alerts.record_failing(record(), attempt, "HTTP 503", "sig-1")
        for attempt in range(3, 9):
            alerts.record_failing(record(), attempt, "HTTP 503", "sig-1")
        alerts.record_failing(record(key=None), 3, "ReadTimeout: timed out", "sig-2")
    finally:
        await alerts.close()
    hooks = inbox.app.received("/hook")
    assert [(p.body["kafka_key"], p.body["attempts"]) for p in hooks] == [
        ("EURUSD", 3),
        ("(no key)", 3),
    ]
    assert hooks[0].body["signal_id"] == "sig-1"
    assert hooks[0].body["offset"] == 7
    assert hooks[0].body["severity"] == "warning"
    assert len(inbox.app.received("/sendMessage")) == 2


def settings_with_inbox(inbox: RunningInbox, **env: str) -> dict[str, str]:
    """BASE plus both sinks pointed at the inbox, plus `env`."""
    return {
        **BASE,
        "ALERT_TELEGRAM_BOT_TOKEN": TOKEN,
        "ALERT_TELEGRAM_CHAT_ID": CHAT_ID,
        "ALERT_TELEGRAM_API_URL": inbox.url,
        "ALERT_WEBHOOK_URL": f"{inbox.url}/hook",
        **env,
    }


async def test_a_short_systemic_failure_raises_no_alert(inbox: RunningInbox) -> None:
    """A systemic failure that clears before ALERT_SYSTEMIC_AFTER_SECONDS alerts nothing."""
    settings = load_settings(settings_with_inbox(inbox, ALERT_SYSTEMIC_AFTER_SECONDS="3600"))
    alerts = Alerts.from_settings(settings)
    alerts.start()
    try:
        alerts.systemic_changed(False, "HTTP 401 from the signal server")
        alerts.systemic_changed(True, "HTTP 401 from the signal server")
    finally:
        await alerts.close()
    assert inbox.app.posts == []


async def test_a_persisting_systemic_failure_alerts_then_resolves(inbox: RunningInbox) -> None:
    """Past the threshold: a critical alert; when it clears: a resolved alert."""
    settings = load_settings(settings_with_inbox(inbox, ALERT_SYSTEMIC_AFTER_SECONDS="0.05"))
    alerts = Alerts.from_settings(settings)
    alerts.start()
    try:
        alerts.systemic_changed(False, "HTTP 401 from the signal server")
        await inbox.app.wait_for(lambda posts: len(posts) == 2, 10)
        alerts.systemic_changed(True, "HTTP 401 from the signal server")
        await inbox.app.wait_for(lambda posts: len(posts) == 4, 10)
    finally:
        await alerts.close()
    firing, resolved = (p.body for p in inbox.app.received("/hook"))
    assert firing["kind"] == "systemic_failure"
    assert firing["severity"] == "critical"
    assert firing["reason"] == "HTTP 401 from the signal server"
    assert resolved["kind"] == "systemic_resolved"
    assert resolved["severity"] == "info"
    assert "[CRITICAL]" in inbox.app.received("/sendMessage")[0].body["text"]


async def test_a_systemic_failure_again_within_the_interval_stays_quiet(
    inbox: RunningInbox, caplog: pytest.LogCaptureFixture
) -> None:
    """A second failure inside ALERT_MIN_INTERVAL_SECONDS is neither re-alerted nor resolved."""
    caplog.set_level(logging.DEBUG)
    settings = load_settings(settings_with_inbox(inbox, ALERT_SYSTEMIC_AFTER_SECONDS="0"))
    alerts = Alerts.from_settings(settings)

    def decided(outcome: str) -> int:
        return sum(
            r.getMessage() == outcome and r.fields["kind"] == "systemic_failure"  # type: ignore[attr-defined]
            for r in caplog.records
        )

    alerts.start()
    try:
        alerts.systemic_changed(False, "HTTP 403 from the signal server")
        await eventually(lambda: decided("alert_raised") == 1, 10, "the first alert")
        alerts.systemic_changed(True, "HTTP 403 from the signal server")
        alerts.systemic_changed(False, "HTTP 403 from the signal server")
        await eventually(lambda: decided("alert_suppressed") == 1, 10, "the second decision")
        alerts.systemic_changed(True, "HTTP 403 from the signal server")
    finally:
        await alerts.close()
    kinds = [p.body["kind"] for p in inbox.app.received("/hook")]
    assert kinds == ["systemic_failure", "systemic_resolved"]


async def test_no_sink_means_no_alert_traffic(inbox: RunningInbox) -> None:
    """Without sinks the hooks do nothing (the log events remain the alerts)."""
    alerts = Alerts.from_settings(load_settings({**BASE, "ALERT_SYSTEMIC_AFTER_SECONDS": "0"}))
    alerts.start()
    try:
        alerts.systemic_changed(False, "HTTP 401")
        alerts.record_failing(record(), 50, "HTTP 503", "sig-1")
        alerts.systemic_changed(True, "HTTP 401")
    finally:
        await alerts.close()
    assert not alerts.enabled
    assert inbox.app.posts == []


# -- sending never hurts the relay --------------------------------------------------------


async def test_a_failing_sink_is_logged_and_the_other_still_receives(
    inbox: RunningInbox, caplog: pytest.LogCaptureFixture
) -> None:
    """Telegram down: alert_send_failed is logged (no token); the webhook still gets it."""
    caplog.set_level(logging.DEBUG)
    env = settings_with_inbox(
        inbox, ALERT_TELEGRAM_API_URL="http://127.0.0.1:9", ALERT_KEY_FAILURE_THRESHOLD="1"
    )
    alerts = Alerts.from_settings(load_settings(env))
    alerts.start()
    try:
        alerts.record_failing(record(), 1, "HTTP 503", "sig-1")
        await inbox.app.wait_for(lambda posts: len(posts) == 1, 10)
    finally:
        await alerts.close()
    (failed,) = [r for r in caplog.records if r.getMessage() == "alert_send_failed"]
    fields = failed.fields  # type: ignore[attr-defined]
    assert fields["sink"] == "telegram"
    assert fields["error"].startswith("telegram: ConnectError")
    assert TOKEN not in caplog.text
    assert all(TOKEN not in repr(r.__dict__) for r in caplog.records)
    assert inbox.app.posts[0].path == "/hook"


async def test_a_stalled_sink_never_blocks_and_the_queue_is_bounded(
    inbox: RunningInbox, caplog: pytest.LogCaptureFixture
) -> None:
    """While the sinks hang, hooks return at once; alerts beyond the queue bound are dropped."""
    inbox.app.release.clear()
    env = settings_with_inbox(inbox, ALERT_KEY_FAILURE_THRESHOLD="1", ALERT_MAX_PER_HOUR="1000")
    alerts = Alerts.from_settings(load_settings(env))
    alerts.start()
    try:
        for n in range(150):
            alerts.record_failing(record(key=f"K{n}".encode()), 1, "HTTP 503", f"sig-{n}")
        dropped = [r for r in caplog.records if r.getMessage() == "alert_dropped"]
        assert len(dropped) == 50
        inbox.app.release.set()
        await inbox.app.wait_for(lambda posts: len(posts) == 200, 30)
    finally:
        inbox.app.release.set()
        await alerts.close()
    assert len(inbox.app.received("/hook")) == 100


# -- the relay raises them ----------------------------------------------------------------


async def test_relay_alerts_on_a_failing_key_and_a_persisting_systemic_failure(
    kafka_bootstrap: str,
    new_topic: TopicFactory,
    receiver: RunningReceiver,
    inbox: RunningInbox,
) -> None:
    """A key failing 3 times, then a 401 lasting 0.2 s and its recovery reach both sinks."""
    topic = await new_topic(1)
    await ensure_topic(kafka_bootstrap, f"{topic}.dlq")
    receiver.app.faults = Faults(status_by_instrument={"FLAKY": 503})
    published = await publish(
        kafka_bootstrap,
        topic,
        [(b"FLAKY", encode(signal("FLAKY", 0))), (b"OK", encode(signal("OK", 1)))],
    )
    env = relay_env(
        kafka_bootstrap,
        topic,
        receiver.url,
        ALERT_TELEGRAM_BOT_TOKEN=TOKEN,
        ALERT_TELEGRAM_CHAT_ID=CHAT_ID,
        ALERT_TELEGRAM_API_URL=inbox.url,
        ALERT_WEBHOOK_URL=f"{inbox.url}/hook",
        ALERT_KEY_FAILURE_THRESHOLD=3,
        ALERT_SYSTEMIC_AFTER_SECONDS=0.2,
    )
    settings = load_settings(env)

    def kinds(posts: list[Posted]) -> list[str]:
        return [p.body["kind"] for p in posts if p.path == "/hook"]

    async with running_relay(settings):
        await inbox.app.wait_for(lambda posts: "key_failing" in kinds(posts), 30)
        receiver.app.verifier.set_secrets(["another-secret-0123456789"])
        await inbox.app.wait_for(lambda posts: "systemic_failure" in kinds(posts), 30)
        receiver.app.verifier.set_secrets([SECRET])
        receiver.app.faults = Faults()
        await inbox.app.wait_for(lambda posts: "systemic_resolved" in kinds(posts), 30)
        expected = end_offsets(published)

        async def all_committed() -> bool:
            return await committed_offsets(kafka_bootstrap, settings.group_id, topic) == expected

        await eventually_async(all_committed, 30, "every offset committed")

    assert kinds(inbox.app.posts) == ["key_failing", "systemic_failure", "systemic_resolved"]
    failing = inbox.app.received("/hook")[0].body
    assert (failing["kafka_key"], failing["topic"], failing["offset"]) == ("FLAKY", topic, 0)
    assert failing["producer_id"] == settings.producer_id
    texts = [p.body["text"] for p in inbox.app.received(f"/bot{TOKEN}/sendMessage")]
    assert len(texts) == 3
    assert "deliveries paused" in texts[1]
