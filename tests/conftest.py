"""Shared fixtures: one Kafka broker per session, a fresh topic per test.

The broker comes from `consumer.devkit._local_broker.local_broker()`: `KAFKA_BOOTSTRAP_SERVERS` when
set, else a Kafka container when Docker answers, else a local Tansu process. Tansu's first
consumer-group join takes a few seconds; prefer one group per test.
"""

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import pytest
from hypothesis import HealthCheck, settings
from relay_harness import SECRET

from consumer.devkit import local_broker
from consumer.tools import ensure_topic
from signing.receiver import ReceiverApp, ReceiverConfig, create_app, serve_in_thread

# A shared 2-core CI machine stalls now and then: no per-example deadline, no "too slow"
# health check, and a fixed example sequence so that every run checks the same cases.
# HYPOTHESIS_PROFILE=explore draws new examples each run, and more of them.
settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile(
    "explore", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=1000
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


class TopicFactory(Protocol):
    """Creates a topic with a random name, and its DLQ `<name>.dlq`, and returns the name."""

    async def __call__(self, partitions: int = 1) -> str: ...


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers of the session's broker."""
    with local_broker() as broker:
        yield broker.bootstrap_servers


@pytest.fixture
def new_topic(kafka_bootstrap: str) -> TopicFactory:
    """An async factory: `await new_topic(partitions)` creates a topic no other test uses.

    Its DLQ (`<name>.dlq`, the relay's default) is created too: the relay never creates a
    topic, and refuses to start when its topic or DLQ is missing.
    """

    async def create(partitions: int = 1) -> str:
        name = f"test-{uuid.uuid4().hex[:16]}"
        await ensure_topic(kafka_bootstrap, name, partitions)
        await ensure_topic(kafka_bootstrap, f"{name}.dlq")
        return name

    return create


@dataclass(frozen=True)
class RunningReceiver:
    """The reference receiver on loopback: the app (ledger, faults, verifier) and its URL."""

    app: ReceiverApp
    url: str


@pytest.fixture
def receiver() -> Iterator[RunningReceiver]:
    """A fresh reference receiver on a free loopback port, accepting the tests' secret."""
    app = create_app(ReceiverConfig(secrets=(SECRET,)))
    with serve_in_thread(app) as url:
        yield RunningReceiver(app, url)


async def eventually(check: Callable[[], bool], within: float, what: str) -> None:
    """Wait until `check()` holds (polled on the event loop), or fail naming `what`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.02)


async def eventually_async(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    """Like `eventually`, for a condition that needs I/O to check (e.g. committed offsets)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.05)
