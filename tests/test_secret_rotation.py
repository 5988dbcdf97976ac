"""Secret rotation without a restart: the relay follows HMAC_PRODUCER_SECRET_FILE on disk.

The file lives in a directory laid out as a Kubernetes Secret volume (`hmac` -> `..data/hmac`,
`..data` -> a timestamped directory, swapped atomically). A real relay and broker deliver to
the reference receiver while the secret changes; a bad new file keeps the old secret.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import os
from collections import defaultdict
from pathlib import Path

import orjson
import pytest
from alert_inbox import AlertInbox
from conftest import TopicFactory, eventually
from log_capture import json_lines, rendered_logs
from relay_harness import encode, keyed_signals, publish, relay_env, running_relay, signal

from consumer.adapters import SecretWatch, watch_secret
from consumer.config import Settings, load_settings
from consumer.ops import Alerts
from signing import verify_signature
from signing.receiver import Faults, ReceiverApp, ReceiverConfig, create_app, serve_in_thread
from signing.receiver.ledger import AcceptedSignal

OLD = b"old-secret-0123456789abcdef"
NEW = b"new-secret-0123456789abcdef"
KEYS = [f"KEY{i}" for i in range(6)]


class SecretVolume:
    """A directory as the kubelet writes a Secret volume; `write` swaps `..data` atomically."""

    def __init__(self, root: Path, content: bytes) -> None:
        self.root = root
        self._versions = itertools.count()
        self.write(content)
        (root / "hmac").symlink_to("..data/hmac")

    @property
    def path(self) -> Path:
        """The file HMAC_PRODUCER_SECRET_FILE names."""
        return self.root / "hmac"

    def write(self, content: bytes) -> None:
        """A new version directory holding `content`, then the `..data` link swapped to it."""
        version = self.root / f"..2026_12_02_{next(self._versions)}"
        version.mkdir()
        (version / "hmac").write_bytes(content)
        self._swap(version)

    def write_directory(self) -> None:
        """A new version where `hmac` is a directory: the secret cannot be read."""
        version = self.root / f"..2026_12_02_{next(self._versions)}"
        (version / "hmac").mkdir(parents=True)
        self._swap(version)

    def _swap(self, version: Path) -> None:
        staging = self.root / "..data_tmp"
        staging.symlink_to(version.name)
        os.replace(staging, self.root / "..data")


def _env(volume: SecretVolume, **more: str) -> dict[str, str]:
    env = relay_env("127.0.0.1:1", "t", "http://127.0.0.1:1", **more)
    del env["HMAC_PRODUCER_SECRET"]
    env["HMAC_PRODUCER_SECRET_FILE"] = str(volume.path)
    return env


def _signed_with(signal: AcceptedSignal, secret: bytes) -> bool:
    headers = signal.headers
    return verify_signature(
        secret,
        signal.body,
        headers["x-timestamp"],
        headers["x-producer-id"],
        headers["x-signature"],
    )


def _seq(signal: AcceptedSignal) -> int:
    return int(orjson.loads(signal.body)["note"].removeprefix("seq="))


def test_a_bad_file_keeps_the_old_secret_logs_once_and_alerts(tmp_path: Path) -> None:
    """Too short, then unreadable: the old secret stays; one error line each, and an alert."""
    volume = SecretVolume(tmp_path, OLD)
    app = AlertInbox()
    try:
        with serve_in_thread(app) as url, rendered_logs() as stream:
            settings = load_settings(_env(volume, ALERT_WEBHOOK_URL=f"{url}/hook"))
            asyncio.run(_bad_files(volume, settings))
    finally:
        app.release.set()
    refused = [line for line in json_lines(stream.getvalue()) if line["event"] == "secret_refused"]
    assert [line["level"] for line in refused] == ["error", "error"]
    assert "at least 16 bytes" in refused[0]["problem"]
    assert "not a regular file" in refused[1]["problem"]
    assert OLD.decode() not in stream.getvalue()
    # The second refusal follows within ALERT_MIN_INTERVAL_SECONDS: rate-limited, logged only.
    hooks = app.received("/hook")
    assert [(post.body["kind"], post.body["severity"]) for post in hooks] == [
        ("secret_refused", "critical")
    ]
    assert hooks[0].body["variable"] == "HMAC_PRODUCER_SECRET_FILE"


async def _bad_files(volume: SecretVolume, settings: Settings) -> None:
    alerts = Alerts.from_settings(settings)
    alerts.start()
    try:
        watch = watch_secret(settings, alerts)
        assert watch is not None
        volume.write(b"too-short")
        for _ in range(3):  # the same bad state is reported once, however often it is read
            assert watch.refresh() is False
            assert watch.current() == OLD
        volume.write_directory()
        assert watch.refresh() is False
        assert watch.current() == OLD
        volume.write(NEW)
        assert watch.refresh() is True
        assert watch.current() == NEW
    finally:
        await alerts.close()


async def test_rotation_mid_stream_loses_and_rejects_nothing(
    kafka_bootstrap: str, new_topic: TopicFactory, tmp_path: Path
) -> None:
    """Old+new, rotate while delivering, then new only: 0 lost, 0 rejected, key order kept."""
    volume = SecretVolume(tmp_path, OLD)
    # 50 ms per request: each key's 40 records take at least 2 s, so the swap lands mid-stream.
    app = create_app(ReceiverConfig(secrets=(OLD,), faults=Faults(latency_ms=50)))
    topic = await new_topic(3)
    with serve_in_thread(app) as url, rendered_logs() as stream:
        env = _env(volume, KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, KAFKA_TOPIC=topic)
        env |= {"KAFKA_GROUP_ID": f"{topic}-relay", "OUTBOUND_SERVER_URL": url}
        settings = load_settings(env)
        async with running_relay(settings):
            await _rotate_while_delivering(app, volume, kafka_bootstrap, topic, stream)
    refused = [line for line in json_lines(stream.getvalue()) if line["event"] == "secret_refused"]
    rotated = [line for line in json_lines(stream.getvalue()) if line["event"] == "secret_rotated"]
    assert len(refused) == 1
    assert len(rotated) == 1

    ledger = app.ledger
    assert ledger.status_counts == {201: len(KEYS) * 45}, "a request was refused"
    assert set(ledger.delivery_counts().values()) == {1}
    by_key: dict[str, list[AcceptedSignal]] = defaultdict(list)
    for accepted in ledger.accepted:
        by_key[accepted.instrument].append(accepted)
    assert {key: [_seq(s) for s in signals] for key, signals in by_key.items()} == {
        key: list(range(45)) for key in KEYS
    }
    # Per key, the switch happens once: old secret up to some record, the new one after it.
    switched_mid_stream = 0
    for signals in by_key.values():
        new = [_signed_with(s, NEW) for s in signals]
        assert new == sorted(new)
        assert all(
            _signed_with(s, OLD) for s, is_new in zip(signals, new, strict=True) if not is_new
        )
        switched_mid_stream += 0 < new.index(True) < 40
    assert switched_mid_stream > 0, "the secret changed before or after the stream, not during"


async def _rotate_while_delivering(
    app: ReceiverApp, volume: SecretVolume, bootstrap: str, topic: str, logs: io.StringIO
) -> None:
    ledger = app.ledger
    await publish(bootstrap, topic, keyed_signals(KEYS, 40))
    await eventually(lambda: ledger.accepted_count >= 12, 60, "the stream to start")
    # A bad file first: refused, so the relay keeps the old secret the receiver still requires.
    volume.write(b"short")
    await eventually(lambda: "secret_refused" in logs.getvalue(), 60, "the refusal")
    await eventually(lambda: ledger.accepted_count >= 60, 60, "more deliveries")
    # Step 1: the server accepts old and new. Step 2: the new secret is written.
    app.verifier.set_secrets((OLD, NEW))
    volume.write(NEW)
    await eventually(
        lambda: any(_signed_with(s, NEW) for s in ledger.accepted), 60, "a request signed anew"
    )
    await eventually(lambda: ledger.accepted_count >= len(KEYS) * 40, 120, "the first batch")
    # Step 3: the old secret leaves the server; the stream goes on with the new one alone.
    app.verifier.set_secrets((NEW,))
    tail = [(key.encode(), encode(signal(key, seq))) for seq in range(40, 45) for key in KEYS]
    await publish(bootstrap, topic, tail)
    await eventually(lambda: ledger.accepted_count >= len(KEYS) * 45, 120, "the second batch")


@pytest.mark.parametrize("content", [b"", b"   \n"])
def test_an_empty_file_is_refused_like_a_short_one(tmp_path: Path, content: bytes) -> None:
    """An empty (or blank) new file is refused: an empty secret never signs."""
    volume = SecretVolume(tmp_path, OLD)
    settings = load_settings(_env(volume))
    watch = watch_secret(settings, Alerts.from_settings(settings))
    assert watch is not None
    volume.write(content)
    assert watch.refresh() is False
    assert watch.current() == OLD


def test_the_file_is_looked_at_once_a_poll_interval(tmp_path: Path) -> None:
    """Between polls the old secret is served without a stat; the first call after one swaps."""
    volume = SecretVolume(tmp_path, OLD)
    now = [100.0]
    watch = SecretWatch(
        str(volume.path),
        OLD,
        check=lambda secret: None,
        on_refused=lambda problem: None,
        poll_seconds=1.0,
        clock=lambda: now[0],
    )
    volume.write(NEW)
    now[0] += 0.5
    assert watch.current() == OLD
    now[0] += 0.5
    assert watch.current() == NEW
