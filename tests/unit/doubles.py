"""In-memory doubles at the record path's true seams, and the wiring the unit tests share.

The seams: the `HttpClient` protocol (`FakeServer`), the dead-letter producer
(`MemoryProducer`), the commit function (`MemoryBroker`) and the retry policy (no backoff,
`RetryPolicy.testing`). Everything between them is the production code. Tests wait on
conditions (`until`), never on time.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import orjson
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata
from relay_harness import encode, relay_settings, signal

from consumer.adapters import DeadLetterWriter, HttpAnswer, HttpSender
from consumer.config import Settings
from consumer.ops import NO_TRACING, RelayMetrics, Tracing
from consumer.service import (
    AgePolicy,
    CommitLoop,
    CommitPolicy,
    Final,
    PartitionLane,
    RecordFlow,
    RetryPolicy,
    SystemicGate,
)

TOPIC = "signals"
DLQ = "signals.dlq"
NOW = 1_800_000_000.0
CREATED = HttpAnswer(201, {}, "")
WITHIN = 5.0


class Changes:
    """A condition notified on every change of a double's state; wait on it, not on time."""

    def __init__(self) -> None:
        self._changed = asyncio.Condition()

    async def notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def until(self, check: Callable[[], bool], within: float = WITHIN) -> None:
        """Return once `check()` holds; fail after `within` seconds."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(check), within)


@dataclass(frozen=True, slots=True)
class Posted:
    """One POST the fake server received.

    Attributes:
        instrument: the signal's instrument (the tests key records by it).
        note: the signal's note (`seq=N`, its place in its key's sequence).
        idempotency_key: the `X-Idempotency-Key` header (the signal_id).
        at: the event loop's clock when it arrived.
    """

    instrument: str
    note: str
    idempotency_key: str
    at: float


class FakeServer(Changes):
    """An `HttpClient` double: answers from a per-instrument script, else `default`.

    A script entry is an `HttpAnswer` or an exception to raise (a transport error). `hold(i)`
    makes POSTs of instrument `i` wait until the returned event is set.
    """

    def __init__(self, default: HttpAnswer = CREATED) -> None:
        super().__init__()
        self.default = default
        self.posted: list[Posted] = []
        self._scripts: dict[str, deque[HttpAnswer | Exception]] = {}
        self._holds: dict[str, asyncio.Event] = {}

    def script(self, instrument: str, *answers: HttpAnswer | Exception) -> None:
        """Answer the next POSTs of `instrument` with `answers`, in order."""
        self._scripts.setdefault(instrument, deque()).extend(answers)

    def hold(self, instrument: str) -> asyncio.Event:
        """Hold POSTs of `instrument` until the returned event is set."""
        return self._holds.setdefault(instrument, asyncio.Event())

    def notes(self, instrument: str) -> list[str]:
        """The notes of `instrument`'s POSTs, in arrival order."""
        return [p.note for p in self.posted if p.instrument == instrument]

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> HttpAnswer:
        data = orjson.loads(body)
        instrument, note = str(data["instrument"]), str(data.get("note", ""))
        loop = asyncio.get_running_loop()
        self.posted.append(Posted(instrument, note, headers["X-Idempotency-Key"], loop.time()))
        await self.notify()
        held = self._holds.get(instrument)
        if held is not None:
            await held.wait()
        script = self._scripts.get(instrument)
        answer = script.popleft() if script else self.default
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def aclose(self) -> None:
        return None


class MemoryProducer(Changes):
    """The dead-letter producer seam: acknowledges at once and keeps what it was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[bytes | None, dict[str, bytes]]] = []

    async def send_and_wait(
        self,
        topic: str,
        *,
        value: bytes | None,
        key: bytes | None,
        headers: list[tuple[str, bytes]],
    ) -> None:
        self.sent.append((value, dict(headers)))
        await self.notify()

    def reasons(self) -> list[bytes]:
        """The `dlq.reason` of every letter, in order."""
        return [headers["dlq.reason"] for _, headers in self.sent]


class MemoryBroker(Changes):
    """The commit seam: keeps every commit's offsets and metadata; `silent` never answers."""

    def __init__(self, *, silent: bool = False) -> None:
        super().__init__()
        self.commits: list[dict[TopicPartition, int]] = []
        self.metadata: list[dict[TopicPartition, str]] = []
        self.silent = silent

    async def commit(self, offsets: Mapping[TopicPartition, OffsetAndMetadata]) -> None:
        if self.silent:
            await asyncio.Event().wait()
        self.commits.append({tp: each.offset for tp, each in offsets.items()})
        self.metadata.append({tp: each.metadata for tp, each in offsets.items()})
        await self.notify()


@dataclass
class Rig:
    """A `RecordFlow` wired to the doubles, with everything a test looks at.

    Attributes:
        flow: the production record flow.
        server: its HTTP peer.
        producer: its dead-letter producer (unused in dry run).
        gate: the systemic gate it shares with every lane.
        metrics: its metrics.
        gate_changes: every `(is_open, reason)` the gate reported.
    """

    flow: RecordFlow
    server: FakeServer
    producer: MemoryProducer
    gate: SystemicGate
    metrics: RelayMetrics
    gate_changes: list[tuple[bool, str]]


def rig(
    *,
    policy: RetryPolicy | None = None,
    probe_seconds: float = 0.01,
    dry_run: bool = False,
    server: FakeServer | None = None,
    clock: Callable[[], float] = lambda: NOW,
    age_policy: AgePolicy | None = None,
    settings: Settings | None = None,
    tracing: Tracing = NO_TRACING,
) -> Rig:
    """A flow with no backoff (unless `policy` says otherwise) against a fresh fake server."""
    settings = settings or relay_settings("127.0.0.1:9", TOPIC, "http://127.0.0.1:9/signals")
    server = server or FakeServer()
    metrics = RelayMetrics()
    policy = policy or RetryPolicy.testing()
    producer = MemoryProducer()
    changes: list[tuple[bool, str]] = []
    gate = SystemicGate(probe_seconds, on_change=lambda *change: changes.append(change))
    flow = RecordFlow(
        sender=HttpSender(settings, server, metrics, clock=clock),
        dead_letters=None if dry_run else DeadLetterWriter(producer, DLQ, policy),
        gate=gate,
        policy=policy,
        metrics=metrics,
        max_body_size=65536,
        clock=clock,
        age_policy=age_policy,
        tracing=tracing,
    )
    return Rig(flow, server, producer, gate, metrics, changes)


def record(
    offset: int, instrument: str = "EURUSD", seq: int = 0, *, partition: int = 0
) -> ConsumerRecord[bytes, bytes]:
    """A valid signal record keyed by its instrument."""
    return raw_record(offset, instrument.encode(), encode(signal(instrument, seq)), partition)


def raw_record(
    offset: int, key: bytes | None, value: bytes, partition: int = 0
) -> ConsumerRecord[bytes, bytes]:
    """A record with exactly these key and value bytes."""
    return ConsumerRecord(TOPIC, partition, offset, 0, 0, key, value, None, -1, len(value), ())


class Crashes:
    """Collects what a lane reports as a crash (none is expected)."""

    def __init__(self) -> None:
        self.errors: list[BaseException] = []

    def __call__(self, exc: BaseException) -> None:
        self.errors.append(exc)


def lane(flow: RecordFlow, partition: int = 0, crashes: Crashes | None = None) -> PartitionLane:
    """A lane of partition `partition` running `flow`."""
    return PartitionLane(
        TopicPartition(TOPIC, partition),
        flow.run,
        on_progress=lambda _: None,
        on_crash=crashes or Crashes(),
    )


def commit_loop(
    lanes: list[PartitionLane],
    broker: MemoryBroker,
    *,
    policy: CommitPolicy = CommitPolicy.COMMIT,
    interval: float = 0.01,
) -> CommitLoop:
    """The commit rule over `lanes` (read live, as the relay does), committing to `broker`."""
    return CommitLoop(
        lambda: {each.tp: each.tracker for each in lanes},
        broker.commit,
        interval,
        policy=policy,
        timeout=WITHIN,
    )


async def run(flow: RecordFlow, rec: ConsumerRecord[bytes, bytes]) -> Final:
    """Take `rec` to its final outcome (bounded)."""
    return await asyncio.wait_for(flow.run(rec, asyncio.Event(), 0.0), WITHIN)
