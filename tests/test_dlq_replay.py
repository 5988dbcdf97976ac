"""`signal-relay dlq replay`: chosen dead letters go back as their original records, paced."""

import asyncio
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from conftest import RunningReceiver, TopicFactory, eventually, eventually_async
from relay_harness import encode, expected_signal_id, publish, relay_settings, running_relay, signal

from consumer.adapters import DeadLetter, dlq_headers
from consumer.tools import (
    REPLAYED_FROM_HEADER,
    MissingTargetError,
    ReplayFilter,
    TokenBucket,
    committed_offsets,
    ensure_topic,
    plan_replay,
    read_dead_letters,
    read_topic,
    replay,
)
from signing.receiver import Faults

JAN, FEB, MAR = (datetime(2026, month, 1, tzinfo=UTC) for month in (1, 2, 3))


def _letter(reason: str, at: datetime, signal_id: str | None) -> DeadLetter:
    epoch = at.timestamp()
    return DeadLetter(reason, f"{reason} on purpose", 1, epoch, epoch, signal_id=signal_id)


async def _dead_letters(
    bootstrap: str,
    dlq: str,
    source: str,
    letters: Sequence[tuple[bytes | None, bytes, DeadLetter]],
    original_headers: Sequence[tuple[str, bytes]] = (("trace-id", b"t-1"),),
) -> None:
    """Write dead letters to `dlq` exactly as the relay does (same header builder)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for offset, (key, value, letter) in enumerate(letters):
            headers = dlq_headers(
                original_headers, letter, topic=source, partition=0, offset=offset
            )
            await producer.send_and_wait(dlq, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


async def _replay_cli(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "consumer",
        "dlq",
        "replay",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ),
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
async def dlq(kafka_bootstrap: str, new_topic: TopicFactory) -> tuple[str, str]:
    """A source topic and its DLQ holding four dead letters of different reasons and times."""
    source = await new_topic(1)
    dead = f"{source}.dlq"
    await ensure_topic(kafka_bootstrap, dead)
    await _dead_letters(
        kafka_bootstrap,
        dead,
        source,
        [
            (b"A", b'{"a":1}', _letter("http_4xx", JAN, "id-a")),
            (b"B", b"{broken", _letter("invalid_json", FEB, None)),
            (b"C", b'{"c":1}', _letter("max_attempts", FEB + timedelta(days=1), "id-c")),
            (None, b'{"d":1}', _letter("http_4xx", MAR, "id-d")),
        ],
    )
    return source, dead


def _chosen(records: Sequence[Any], dead: str, select: ReplayFilter) -> list[str]:
    return [
        item.source.rsplit("/", 1)[1]
        for item in plan_replay(records, dlq_topic=dead, select=select)
    ]


async def test_filters_choose_by_reason_signal_id_and_time(
    kafka_bootstrap: str, dlq: tuple[str, str]
) -> None:
    """Reasons, signal ids and the [since, until) window each narrow the choice; they AND."""
    _, dead = dlq
    records = await read_dead_letters(kafka_bootstrap, dead)

    assert _chosen(records, dead, ReplayFilter()) == ["0", "1", "2", "3"]
    assert _chosen(records, dead, ReplayFilter(reasons=frozenset({"http_4xx"}))) == ["0", "3"]
    assert _chosen(
        records, dead, ReplayFilter(reasons=frozenset({"invalid_json", "max_attempts"}))
    ) == ["1", "2"]
    assert _chosen(records, dead, ReplayFilter(signal_ids=frozenset({"id-c", "id-x"}))) == ["2"]
    assert _chosen(records, dead, ReplayFilter(since=FEB)) == ["1", "2", "3"]
    assert _chosen(records, dead, ReplayFilter(since=FEB, until=MAR)) == ["1", "2"]
    assert _chosen(records, dead, ReplayFilter(until=FEB)) == ["0"]
    both = ReplayFilter(reasons=frozenset({"http_4xx"}), since=FEB)
    assert _chosen(records, dead, both) == ["3"]


async def test_time_filter_falls_back_to_the_record_timestamp(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """Without dlq.last_attempt_at, the window applies to the Kafka record's timestamp."""
    dead = await new_topic(1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            dead, value=b"{}", headers=[("dlq.source.topic", b"src"), ("dlq.reason", b"x")]
        )
    finally:
        await producer.stop()
    records = await read_dead_letters(kafka_bootstrap, dead)
    hour_ago = datetime.now(UTC) - timedelta(hours=1)

    assert _chosen(records, dead, ReplayFilter(since=hour_ago)) == ["0"]
    assert _chosen(records, dead, ReplayFilter(until=hour_ago)) == []


async def test_replay_restores_key_value_and_headers(
    kafka_bootstrap: str, dlq: tuple[str, str]
) -> None:
    """Replayed: original key and value, original headers without dlq.*, plus replayed_from."""
    source, dead = dlq
    items = plan_replay(
        await read_dead_letters(kafka_bootstrap, dead),
        dlq_topic=dead,
        select=ReplayFilter(reasons=frozenset({"http_4xx"})),
    )
    acked: list[str] = []

    assert await replay(kafka_bootstrap, items, on_replayed=lambda i: acked.append(i.source)) == 2

    assert acked == [f"{dead}/0/0", f"{dead}/0/3"]
    records = await read_topic(kafka_bootstrap, source)
    assert [(r.key, r.value) for r in records] == [(b"A", b'{"a":1}'), (None, b'{"d":1}')]
    assert [list(r.headers) for r in records] == [
        [("trace-id", b"t-1"), (REPLAYED_FROM_HEADER, f"{dead}/0/0".encode())],
        [("trace-id", b"t-1"), (REPLAYED_FROM_HEADER, f"{dead}/0/3".encode())],
    ]


async def test_to_and_limit_redirect_and_cap_the_replay(
    kafka_bootstrap: str, dlq: tuple[str, str], new_topic: TopicFactory
) -> None:
    """--to sends to another topic; --limit stops after N chosen records (CLI, real process)."""
    source, dead = dlq
    elsewhere = await new_topic(1)

    code, out, err = await _replay_cli(
        "--bootstrap", kafka_bootstrap, "--dlq-topic", dead, "--to", elsewhere, "--limit", "2"
    )

    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == f"replayed 2 of 4 dead letter(s) from {dead}"
    assert [r.value for r in await read_topic(kafka_bootstrap, elsewhere)] == [
        b'{"a":1}',
        b"{broken",
    ]
    assert await read_topic(kafka_bootstrap, source) == []


async def test_dry_run_lists_and_publishes_nothing(
    kafka_bootstrap: str, dlq: tuple[str, str]
) -> None:
    """--dry-run prints one line per chosen record (offset, reason, signal_id, target) only."""
    source, dead = dlq

    code, out, _ = await _replay_cli(
        "--bootstrap", kafka_bootstrap, "--dlq-topic", dead, "--dry-run", "--reason", "http_4xx"
    )

    assert code == 0
    assert out.splitlines() == [
        f"would replay {dead}/0/0 reason=http_4xx signal_id=id-a -> {source}",
        f"would replay {dead}/0/3 reason=http_4xx signal_id=id-d -> {source}",
        "dry run: 2 of 4 dead letter(s) chosen; none published",
    ]
    assert await read_topic(kafka_bootstrap, source) == []


async def test_record_without_source_topic_needs_to(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """A dead letter with no dlq.source.topic cannot be planned without --to; nothing is sent."""
    dead = await new_topic(1)
    await publish(kafka_bootstrap, dead, [(b"k", b"{}")], headers=[("dlq.reason", b"http_4xx")])
    records = await read_dead_letters(kafka_bootstrap, dead)

    with pytest.raises(MissingTargetError, match="give --to TOPIC"):
        plan_replay(records, dlq_topic=dead, select=ReplayFilter())
    (item,) = plan_replay(records, dlq_topic=dead, select=ReplayFilter(), to_topic="there")
    assert item.target == "there"

    code, _, err = await _replay_cli("--bootstrap", kafka_bootstrap, "--dlq-topic", dead)
    assert code == 1
    assert len(err.splitlines()) == 1
    assert "dlq.source.topic" in err


async def test_missing_dlq_topic_fails_with_one_line(kafka_bootstrap: str) -> None:
    """A DLQ topic that does not exist: exit 1, one line naming it."""
    code, _, err = await _replay_cli(
        "--bootstrap", kafka_bootstrap, "--dlq-topic", "no-such-topic-d41d8cd98f"
    )
    assert code == 1
    (line,) = err.splitlines()
    assert "no-such-topic-d41d8cd98f" in line


def test_token_bucket_spaces_events_at_the_rate() -> None:
    """At 4/s with a burst of 1, back-to-back reservations wait 0, 0.25, 0.5 s; time refills."""
    now = [100.0]
    bucket = TokenBucket(4, clock=lambda: now[0])
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.25, 0.5]
    now[0] += 1.0  # pays back the two reservations, one token left for now
    assert [bucket.reserve() for _ in range(2)] == [0.0, 0.25]


def test_token_bucket_allows_its_burst_then_the_rate() -> None:
    """A burst of 3 passes at once; the 4th waits one interval; idle time never exceeds it."""
    now = [0.0]
    bucket = TokenBucket(10, burst=3, clock=lambda: now[0])
    assert [bucket.reserve() for _ in range(4)] == [0.0, 0.0, 0.0, pytest.approx(0.1)]
    now[0] += 60.0
    assert [bucket.reserve() for _ in range(4)] == [0.0, 0.0, 0.0, pytest.approx(0.1)]


async def test_replay_takes_one_token_per_record(
    kafka_bootstrap: str, dlq: tuple[str, str]
) -> None:
    """The replay asks its bucket once per record before sending it."""
    _, dead = dlq
    items = plan_replay(
        await read_dead_letters(kafka_bootstrap, dead), dlq_topic=dead, select=ReplayFilter()
    )
    rate = 1e6  # a frozen clock and a huge rate: the real waits are microseconds
    bucket = TokenBucket(rate, clock=lambda: 0.0)

    await replay(kafka_bootstrap, items, bucket=bucket)

    # 4 tokens were taken from a bucket of 1: the next caller waits for 4 more intervals.
    assert bucket.reserve() == pytest.approx(4 / rate)


async def test_replayed_422_is_delivered_once_even_when_replayed_twice(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver
) -> None:
    """A 422 dead letter replayed once the fault is gone is delivered; replayed again, deduped."""
    topic = await new_topic(1)
    dead = f"{topic}.dlq"
    await ensure_topic(kafka_bootstrap, dead)
    value = encode(signal("REJECT", 1))
    signal_id = expected_signal_id(value)
    ledger = receiver.app.ledger
    receiver.app.faults = Faults(status_by_instrument={"REJECT": 422})
    await publish(kafka_bootstrap, topic, [(b"REJECT", value)])
    settings = relay_settings(kafka_bootstrap, topic, receiver.url)
    replay_args = ("--bootstrap", kafka_bootstrap, "--dlq-topic", dead)

    async def committed(through: int) -> bool:
        return await committed_offsets(kafka_bootstrap, settings.group_id, topic) == {0: through}

    async with running_relay(settings):
        await eventually_async(lambda: committed(1), 30, "the 422 dead-lettered and committed")
        receiver.app.faults = Faults()

        assert (await _replay_cli(*replay_args))[0] == 0
        await eventually(lambda: ledger.accepted_count == 1, 30, "the replayed signal accepted")
        assert (await _replay_cli(*replay_args))[0] == 0
        await eventually_async(lambda: committed(3), 30, "both replays committed")

    (accepted,) = ledger.accepted
    assert accepted.signal_id == signal_id
    assert ledger.count(422) == 1
    assert ledger.count(201) == 2  # the delivery and the idempotent replay
    assert ledger.deliveries(signal_id) == 3  # 422, accepted, replayed
    assert len(await read_topic(kafka_bootstrap, dead)) == 1  # no new dead letter
