"""The local broker harness and topic helpers, against the broker they provide."""

import asyncio
import socket
import stat
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord
from conftest import TopicFactory

from consumer.devkit import (
    BOOTSTRAP_ENV,
    KIND_ENV,
    BrokerChoiceError,
    BrokerStartError,
    LocalBroker,
    local_broker,
    tansu_broker,
)
from consumer.tools import (
    TopicNotFoundError,
    committed_offsets,
    ensure_topic,
    read_topic,
)

# Half the session timeout is what Tansu waits before the first join completes; 6 s is
# the smallest session timeout a stock Kafka broker accepts.
_GROUP_SETTINGS = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 2000}


class _BodyFailed(Exception):
    pass


async def _produce(bootstrap: str, topic: str, records: list[tuple[int, bytes]]) -> None:
    async with AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all") as producer:
        for partition, value in records:
            await producer.send_and_wait(topic, value, partition=partition)


def _fake_tansu(tmp_path: Path, script: str) -> str:
    path = tmp_path / "tansu"
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


async def test_group_member_receives_records_and_commits_explicit_offsets(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """A group member gets every record; only the partition it committed has an offset."""
    topic = await new_topic(2)
    values = [f"v{i}".encode() for i in range(5)]
    await _produce(kafka_bootstrap, topic, [(0, value) for value in values])
    group = f"group-{uuid.uuid4().hex}"
    received: list[ConsumerRecord] = []
    async with AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **_GROUP_SETTINGS,
    ) as consumer:
        async with asyncio.timeout(60):
            while len(received) < len(values):
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    received.extend(records)
        await consumer.commit({TopicPartition(topic, 0): received[-1].offset + 1})

    assert [record.value for record in received] == values
    assert await committed_offsets(kafka_bootstrap, group, topic) == {0: len(values)}


async def test_committed_offsets_is_empty_for_a_group_that_never_committed(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """A group without commits has no committed offset on any partition."""
    topic = await new_topic(3)

    assert await committed_offsets(kafka_bootstrap, f"group-{uuid.uuid4().hex}", topic) == {}


async def test_read_topic_returns_every_record_by_partition_then_offset(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """read_topic returns all records, an empty partition included, in partition/offset order."""
    topic = await new_topic(3)
    await _produce(kafka_bootstrap, topic, [(2, b"c0"), (0, b"a0"), (2, b"c1"), (0, b"a1")])

    records = await read_topic(kafka_bootstrap, topic, timeout=30)

    assert [(r.partition, r.offset, r.value) for r in records] == [
        (0, 0, b"a0"),
        (0, 1, b"a1"),
        (2, 0, b"c0"),
        (2, 1, b"c1"),
    ]


async def test_read_topic_of_a_missing_topic_raises(kafka_bootstrap: str) -> None:
    """read_topic names a topic that does not exist instead of returning nothing."""
    with pytest.raises(TopicNotFoundError, match="absent-"):
        await read_topic(kafka_bootstrap, f"absent-{uuid.uuid4().hex}")


async def test_ensure_topic_keeps_an_existing_topic(kafka_bootstrap: str) -> None:
    """Ensuring an existing topic again succeeds and keeps its partitions."""
    topic = f"test-{uuid.uuid4().hex}"
    await ensure_topic(kafka_bootstrap, topic, 2)
    await ensure_topic(kafka_bootstrap, topic, 1)
    await _produce(kafka_bootstrap, topic, [(1, b"x")])

    records = await read_topic(kafka_bootstrap, topic)

    assert [(r.partition, r.value) for r in records] == [(1, b"x")]


def test_external_bootstrap_servers_are_used_without_starting_a_broker(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KAFKA_BOOTSTRAP_SERVERS is used as it is; nothing is started."""
    monkeypatch.setenv(BOOTSTRAP_ENV, kafka_bootstrap)
    monkeypatch.delenv(KIND_ENV, raising=False)
    # Any attempt to start Docker or Tansu would now fail loudly.
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CALF_TANSU_BIN", _fake_tansu(tmp_path, "exit 97"))

    with local_broker() as broker:
        assert broker == LocalBroker(kafka_bootstrap, "external")


async def test_forced_tansu_runs_its_own_broker_and_stops_it_when_the_body_raises(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGNAL_RELAY_BROKER=tansu beats KAFKA_BOOTSTRAP_SERVERS; its broker dies with the context."""
    monkeypatch.setenv(BOOTSTRAP_ENV, kafka_bootstrap)
    monkeypatch.setenv(KIND_ENV, "tansu")

    with pytest.raises(_BodyFailed), local_broker() as broker:  # noqa: PT012
        assert broker.kind == "tansu"
        assert broker.bootstrap_servers != kafka_bootstrap
        await ensure_topic(broker.bootstrap_servers, "answers-kafka")
        raise _BodyFailed

    host, _, port = broker.bootstrap_servers.rpartition(":")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=5).close()


def test_unknown_forced_kind_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    """A SIGNAL_RELAY_BROKER value other than tansu or testcontainers is an error."""
    monkeypatch.setenv(KIND_ENV, "redpanda")

    with pytest.raises(BrokerChoiceError, match="redpanda"), local_broker():
        pass


def test_tansu_exiting_early_reports_its_exit_code_and_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broker process that exits before it is ready fails with its exit code and output."""
    monkeypatch.setenv("CALF_TANSU_BIN", _fake_tansu(tmp_path, "echo 'bind: boom' >&2; exit 3"))

    with pytest.raises(BrokerStartError, match="code 3") as failure, tansu_broker():
        pass

    assert "bind: boom" in str(failure.value)


def test_tansu_that_never_answers_fails_at_the_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broker process that never answers ApiVersions fails once the start deadline passes."""
    monkeypatch.setenv("CALF_TANSU_BIN", _fake_tansu(tmp_path, "echo waiting; exec sleep 60"))

    with (
        pytest.raises(BrokerStartError, match="did not answer ApiVersions") as failure,
        tansu_broker(startup_timeout=0.3),
    ):
        pass

    assert "waiting" in str(failure.value)
