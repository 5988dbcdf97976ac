"""`signal-relay check` asks the real broker and receiver, one line per check, sending nothing."""

from __future__ import annotations

from check_command import run_check, verdicts
from conftest import RunningReceiver, TopicFactory
from relay_harness import free_port, keyed_signals, publish, relay_env

from consumer.adapters import missing_topics


async def test_every_check_passes_and_no_signal_is_sent(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver
) -> None:
    """Against a working setup: eight `ok` lines, exit 0, the lag shown, nothing delivered."""
    topic = await new_topic(3)
    await publish(kafka_bootstrap, topic, keyed_signals(["A", "B"], 2))
    status, lines = await run_check(relay_env(kafka_bootstrap, topic, receiver.url))
    print("\n" + "\n".join(lines))
    assert status == 0
    assert verdicts(lines) == dict.fromkeys(
        ["configuration", "isolation", "codecs", "brokers", "topic", "dlq", "lag", "server"], "ok"
    )
    assert lines[1].startswith("ok   isolation: read_committed (")
    assert f"'{topic}' exists, 3 partitions" in lines[4]
    assert ": 4 (by partition " in lines[6]
    assert lines[6].endswith("; never committed: 0, 1, 2, counted from the log start")
    assert "OPTIONS: HTTP" in lines[7]
    assert receiver.app.ledger.accepted_count == 0


async def test_a_missing_dlq_fails_and_is_not_created(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver
) -> None:
    """A DLQ that does not exist is one FAIL line, exit 1; the check does not create it."""
    topic = await new_topic(1)
    dlq = f"{topic}.missing-dlq"
    env = relay_env(kafka_bootstrap, topic, receiver.url, KAFKA_DLQ_TOPIC=dlq)
    status, lines = await run_check(env)
    assert status == 1
    assert verdicts(lines)["dlq"] == "FAIL"
    assert [line for line in lines if line.startswith("FAIL")] == [
        f"FAIL dlq: '{dlq}' does not exist; create it first (signal-relay never creates topics)"
    ]
    assert await missing_topics(kafka_bootstrap, [dlq]) == (dlq,)


async def test_an_unreachable_server_fails_the_server_check(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """Nothing listening at OUTBOUND_SERVER_URL: the server line fails, exit 1, Kafka still ok."""
    topic = await new_topic(1)
    url = f"http://127.0.0.1:{free_port()}"
    status, lines = await run_check(relay_env(kafka_bootstrap, topic, url), "--timeout", "5")
    assert status == 1
    found = verdicts(lines)
    assert found["server"] == "FAIL"
    assert [name for name, verdict in found.items() if verdict == "FAIL"] == ["server"]
    assert lines[-1].startswith(f"FAIL server: http://127.0.0.1:{url.rsplit(':', 1)[1]}: ")


async def test_a_bad_configuration_lists_every_problem_and_exits_2(
    kafka_bootstrap: str,
) -> None:
    """Each configuration problem is its own FAIL line; nothing else is checked; exit 2."""
    env = relay_env(kafka_bootstrap, "signals", "ftp://example.com", PRODUCER_ID="bad id!")
    status, lines = await run_check(env)
    assert status == 2
    assert len(lines) >= 2
    assert all(line.startswith("FAIL configuration: ") for line in lines)
    assert any("PRODUCER_ID" in line for line in lines)
    assert any("OUTBOUND_SERVER_URL" in line for line in lines)


async def test_the_isolation_level_in_effect_is_one_line(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver
) -> None:
    """read_uncommitted is shown as such, and the lag is counted to the same end on Tansu."""
    topic = await new_topic(1)
    await publish(kafka_bootstrap, topic, keyed_signals(["A"], 3))
    env = relay_env(kafka_bootstrap, topic, receiver.url, KAFKA_ISOLATION_LEVEL="read_uncommitted")
    status, lines = await run_check(env)
    assert status == 0
    shown = [line for line in lines if line.startswith("ok   isolation: ")]
    assert shown == [
        "ok   isolation: read_uncommitted (records of open and aborted transactions are "
        "relayed too; lag counts to the high-watermark)"
    ]
    assert any(
        line.startswith("ok   lag: ") and ": 3 (by partition 0: 3)" in line for line in lines
    )
