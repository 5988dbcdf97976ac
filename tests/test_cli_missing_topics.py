"""The relay and `publish` never create topics: a missing topic or DLQ is exit 2 naming it."""

import asyncio
import os
import sys
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from conftest import TopicFactory, eventually_async
from relay_harness import encode, relay_env, relay_settings, signal

from consumer.adapters import MissingTopicError, missing_topics
from consumer.service import Relay
from consumer.tools import ensure_topic


async def _cli(*args: str, env: dict[str, str], stdin: bytes = b"") -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "consumer",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env},
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _absent_name() -> str:
    return f"absent-{uuid.uuid4().hex[:12]}"


async def _exists(bootstrap: str, topic: str) -> bool:
    return not await missing_topics(bootstrap, [topic])


def _operator_line(err: str) -> str:
    assert "Traceback" not in err
    (line,) = [line for line in err.splitlines() if not line.startswith("{")]
    return line


async def test_the_check_itself_creates_nothing(kafka_bootstrap: str) -> None:
    """Asking whether a topic exists, on an auto-creating broker, leaves it absent."""
    absent = _absent_name()
    await ensure_topic(kafka_bootstrap, present := f"present-{uuid.uuid4().hex[:12]}")
    for _ in range(2):
        assert await missing_topics(kafka_bootstrap, [present, absent]) == (absent,)
    # The control: this broker does create a topic that a metadata request names.
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.describe_topics([absent])
    finally:
        await admin.close()
    await eventually_async(
        lambda: _exists(kafka_bootstrap, absent), 10, "the named topic to be auto-created"
    )


async def test_publish_to_a_missing_topic_is_exit_2_and_creates_nothing(
    kafka_bootstrap: str,
) -> None:
    """`publish --topic <typo>`: one line naming the topic, exit 2, and still no such topic."""
    typo = _absent_name()
    code, out, err = await _cli(
        "publish",
        "-",
        "--topic",
        typo,
        env={"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap},
        stdin=encode(signal("EURUSD", 1)) + b"\n",
    )
    assert code == 2
    assert out == ""
    (line,) = err.splitlines()
    assert line == (
        f"signal-relay: nothing published: topic {typo!r} does not exist; create it first "
        "(signal-relay never creates topics)"
    )
    assert not await _exists(kafka_bootstrap, typo)


async def test_run_without_its_topic_is_exit_2_and_creates_nothing(kafka_bootstrap: str) -> None:
    """`run` with KAFKA_TOPIC missing: exit 2 naming topic and DLQ; neither is created."""
    topic = _absent_name()
    code, _, err = await _cli("run", env=relay_env(kafka_bootstrap, topic, "http://127.0.0.1:9"))
    assert code == 2
    line = _operator_line(err)
    assert line.startswith("signal-relay: cannot start the relay: topics ")
    assert repr(topic) in line
    assert repr(f"{topic}.dlq") in line
    assert await missing_topics(kafka_bootstrap, [topic, f"{topic}.dlq"]) == (
        topic,
        f"{topic}.dlq",
    )


async def test_run_without_its_dlq_is_exit_2_naming_the_dlq(kafka_bootstrap: str) -> None:
    """The topic exists, its DLQ does not: `run` names only the DLQ and does not create it."""
    topic = _absent_name()
    await ensure_topic(kafka_bootstrap, topic)
    dlq = f"{topic}.dead"
    env = relay_env(kafka_bootstrap, topic, "http://127.0.0.1:9", KAFKA_DLQ_TOPIC=dlq)
    code, _, err = await _cli("run", env=env)
    assert code == 2
    assert f"topic {dlq!r} does not exist" in _operator_line(err)
    assert not await _exists(kafka_bootstrap, dlq)


async def test_the_relay_refuses_a_missing_topic_before_joining(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """The relay object refuses a missing topic with `MissingTopicError` before joining."""
    topic = await new_topic(1)
    settings = relay_settings(kafka_bootstrap, f"{topic}-typo", "http://127.0.0.1:9")
    with pytest.raises(MissingTopicError) as refused:
        await Relay(settings).run()
    assert refused.value.topics == (f"{topic}-typo", f"{topic}-typo.dlq")
