"""A Docker engine that cannot run the Kafka container: the bundled broker, with one line why.

The engine is a real HTTP server on loopback speaking the Engine API (tests/fake_docker_engine),
so these tests need no Docker; testcontainers and the docker SDK talk to it through
`DOCKER_HOST=tcp://...` as they would to a real engine.
"""

import time
import uuid
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaProducer
from fake_docker_engine import REGISTRY_ERROR, START_ERROR, FakeEngine, fake_engine

from consumer.devkit import (
    BOOTSTRAP_ENV,
    KIND_ENV,
    BrokerStartError,
    _kafka_container,
    local_broker,
)
from consumer.tools import ensure_topic, read_topic

_KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"
_RYUK_IMAGE = "testcontainers/ryuk:0.8.1"
_FALLBACK = "Kafka container unavailable ("
_USING_TANSU = "): using the bundled broker"


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEngine]:
    """A fake engine without images or registry, which DOCKER_HOST points at."""
    with fake_engine() as fake:
        _use_docker_host(monkeypatch, fake.url)
        yield fake


def _use_docker_host(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("DOCKER_HOST", url)
    for name in (KIND_ENV, BOOTSTRAP_ENV, "DOCKER_TLS_VERIFY", "TESTCONTAINERS_HOST_OVERRIDE"):
        monkeypatch.delenv(name, raising=False)


async def test_an_engine_that_cannot_pull_falls_back_to_a_working_bundled_broker(
    engine: FakeEngine,
) -> None:
    """No image and no registry: Tansu serves records, and one line names the pull's error."""
    lines: list[str] = []
    topic = f"fallback-{uuid.uuid4().hex[:8]}"

    with local_broker(say=lines.append) as broker:
        await ensure_topic(broker.bootstrap_servers, topic)
        async with AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers) as producer:
            await producer.send_and_wait(topic, b"one record")
        records = await read_topic(broker.bootstrap_servers, topic, timeout=30)

    assert broker.kind == "tansu"
    assert [record.value for record in records] == [b"one record"]
    assert ("POST", "/images/create") in engine.requests
    assert len(lines) == 1
    assert lines[0].startswith(f"{_FALLBACK}cannot pull {_KAFKA_IMAGE}: 500: ")
    assert lines[0].endswith(_USING_TANSU)
    assert "registry-1.docker.io" in lines[0]
    assert "\n" not in lines[0]


def test_forced_testcontainers_with_an_engine_that_cannot_pull_is_a_one_line_error(
    engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGNAL_RELAY_BROKER=testcontainers does not fall back: one line names it and the pull."""
    monkeypatch.setenv(KIND_ENV, "testcontainers")
    lines: list[str] = []

    with pytest.raises(BrokerStartError) as failure, local_broker(say=lines.append):
        pass

    message = str(failure.value)
    assert message.startswith(f"{KIND_ENV}=testcontainers: {_FALLBACK}cannot pull {_KAFKA_IMAGE}")
    assert REGISTRY_ERROR in message
    assert "\n" not in message
    assert lines == []


@pytest.mark.parametrize("ryuk", [True, False], ids=["ryuk", "no-ryuk"])
def test_a_container_that_does_not_start_is_removed(
    ryuk: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A container created but refused a start (ryuk's or Kafka's) is removed before Tansu runs."""
    from testcontainers.core.config import testcontainers_config

    monkeypatch.setattr(testcontainers_config, "ryuk_disabled", not ryuk)
    lines: list[str] = []

    with fake_engine(images={_KAFKA_IMAGE, _RYUK_IMAGE}) as engine:
        _use_docker_host(monkeypatch, engine.url)
        with local_broker(say=lines.append) as broker:
            assert broker.kind == "tansu"

    created = [path for method, path in engine.requests if path == "/containers/create"]
    deleted = [path for method, path in engine.requests if method == "DELETE"]
    assert created
    assert len(deleted) == len(created)
    assert engine.containers == set()
    assert lines == [f"{_FALLBACK}500: {START_ERROR}{_USING_TANSU}"]


def test_a_pull_the_engine_never_answers_falls_back_after_the_engine_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pull that hangs (a blackholed registry) is given up after DOCKER_API_SECONDS."""
    monkeypatch.setattr(_kafka_container, "DOCKER_API_SECONDS", 1.0)
    lines: list[str] = []

    with fake_engine(pull="silent") as engine:
        _use_docker_host(monkeypatch, engine.url)
        started = time.monotonic()
        with local_broker(say=lines.append) as broker:
            fell_back_after = time.monotonic() - started
            assert broker.kind == "tansu"

    assert lines == [
        f"{_FALLBACK}cannot pull {_KAFKA_IMAGE}: the Docker engine was silent for 1s{_USING_TANSU}"
    ]
    # The 1 s timeout, then Tansu's start (well under a second when the machine is quiet).
    assert fell_back_after < 10


def test_no_engine_at_all_is_the_bundled_broker_without_a_word(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Nothing listening at DOCKER_HOST: Tansu, and no line (nothing to fall back from)."""
    _use_docker_host(monkeypatch, f"unix://{tmp_path_factory.mktemp('docker')}/docker.sock")
    lines: list[str] = []

    with local_broker(say=lines.append) as broker:
        assert broker.kind == "tansu"

    assert lines == []
