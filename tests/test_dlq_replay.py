"""`signal-relay dlq replay`: chosen dead letters go back as their original records, paced."""

import asyncio
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from conftest import RunningReceiver, TopicFactory, eventually, eventually_async
from relay_harness import encode, expected_signal_id, publish, relay_settings, running_relay, signal

from consumer.adapters import DeadLetter, dlq_headers, rate_limiter
from consumer.tools import (
    DLQ_REASONS,
    HELD_BACK_REASONS,
    REPLAYED_FROM_HEADER,
    MissingTargetError,
    ReplayFilter,
    committed_offsets,
    ensure_topic,
    plan_replay,
    read_dead_letters,
    read_topic,
    replay,
)
from signing.receiver import Faults

PROTOCOL = (Path(__file__).resolve().parent.parent / "docs" / "PROTOCOL.md").read_text()
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
    """Offsets chosen by `select`, held-back reasons included (the filters are under test)."""
    everything = replace(select, include=HELD_BACK_REASONS)
    return [
        item.source.rsplit("/", 1)[1]
        for item in plan_replay(records, dlq_topic=dead, select=everything).items
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
    ).items
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
    assert out.splitlines()[-1].startswith(
        f"replayed 2 of 2 chosen, 4 dead letter(s) read from {dead} in "
    )
    assert out.splitlines()[-1].endswith(
        "; skipped 1 (invalid_json 1; --include REASON replays them)"
    )
    assert [r.value for r in await read_topic(kafka_bootstrap, elsewhere)] == [
        b'{"a":1}',
        b'{"c":1}',
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
    (item,) = plan_replay(records, dlq_topic=dead, select=ReplayFilter(), to_topic="there").items
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


async def test_replay_is_paced_by_its_limiter(kafka_bootstrap: str, dlq: tuple[str, str]) -> None:
    """Four records at 10/s with a burst of 1 take at least 0.3 s (aiolimiter's leaky bucket)."""
    _, dead = dlq
    items = plan_replay(
        await read_dead_letters(kafka_bootstrap, dead),
        dlq_topic=dead,
        select=ReplayFilter(include=HELD_BACK_REASONS),
    ).items
    loop = asyncio.get_running_loop()
    started = loop.time()

    assert await replay(kafka_bootstrap, items, limiter=rate_limiter(10, burst=1)) == 4

    assert loop.time() - started >= 0.3 - 0.01


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


async def test_reasons_are_those_of_the_protocol_and_the_help() -> None:
    """DLQ_REASONS is §9.4's table, and `--help` lists the same reasons and held-back ones."""
    section = PROTOCOL.split("### 9.4 Reasons", 1)[1].split("\n### ", 1)[0]
    assert list(DLQ_REASONS) == re.findall(r"^\| `([a-z_0-9]+)` \|", section, re.MULTILINE)
    code, out, _ = await _replay_cli("--help")
    text = " ".join(out.split())
    assert code == 0
    assert ", ".join(DLQ_REASONS) in text
    assert ", ".join(sorted(HELD_BACK_REASONS)) in text


async def test_an_unknown_reason_is_refused_in_one_line() -> None:
    """`--reason bogus` (or `--include bogus`): exit 2, one line listing every valid reason."""
    for option in ("--reason", "--include"):
        code, out, err = await _replay_cli("--bootstrap", "127.0.0.1:9", option, "bogus")
        assert (code, out) == (2, "")
        (line,) = err.splitlines()
        assert f"unknown {option} bogus" in line
        assert all(reason in line for reason in DLQ_REASONS)
    code, _, err = await _replay_cli("--bootstrap", "127.0.0.1:9", "--include", "http_4xx")
    assert code == 2
    assert "never held back" in err


async def test_held_back_letters_are_skipped_unless_included(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """invalid_*, undecodable and expired letters are counted as skipped; --include replays one."""
    source = await new_topic(1)
    dead = f"{source}.dlq"
    await ensure_topic(kafka_bootstrap, dead)
    now = datetime.now(UTC)
    await _dead_letters(
        kafka_bootstrap,
        dead,
        source,
        [
            (b"A", b"a", _letter("invalid_json", now, None)),
            (b"B", b"b", _letter("invalid_schema", now, None)),
            (b"C", b"c", _letter("undecodable", now, None)),
            (b"D", b"d", _letter("expired", now, "id-d")),
            (b"E", b"e", _letter("max_attempts", now, "id-e")),
        ],
    )
    args = ("--bootstrap", kafka_bootstrap, "--dlq-topic", dead)

    code, out, _ = await _replay_cli(*args)
    assert code == 0
    assert out.splitlines()[-1].endswith(
        "; skipped 4 (expired 1, invalid_json 1, invalid_schema 1, undecodable 1; "
        "--include REASON replays them)"
    )
    assert [r.value for r in await read_topic(kafka_bootstrap, source)] == [b"e"]

    code, out, _ = await _replay_cli(*args, "--include", "expired", "--reason", "expired")
    assert code == 0
    assert out.splitlines()[-1].startswith("replayed 1 of 1 chosen, 5 dead letter(s) read")
    assert [r.value for r in await read_topic(kafka_bootstrap, source)] == [b"e", b"d"]


async def test_progress_is_plain_lines_when_stdout_is_not_a_terminal(
    kafka_bootstrap: str, dlq: tuple[str, str]
) -> None:
    """Piped, the replay prints progress lines (done/total, rate, ETA) and a summary, no bar."""
    _, dead = dlq
    code, out, _ = await _replay_cli("--bootstrap", kafka_bootstrap, "--dlq-topic", dead)
    assert code == 0
    progress, summary = out.splitlines()[-2:]
    assert re.fullmatch(r"replaying 3/3 \(100%\), [0-9.]+/s, ETA 0s", progress)
    assert summary.startswith(f"replayed 3 of 3 chosen, 4 dead letter(s) read from {dead} in ")
    assert "\x1b" not in out


async def test_a_group_marker_makes_a_second_run_continue_where_the_first_stopped(
    kafka_bootstrap: str, dlq: tuple[str, str]
) -> None:
    """With --group, run 1 (--limit 1) replays A, run 2 the rest, run 3 nothing; offsets kept."""
    source, dead = dlq
    group = f"{dead}-replay"
    args = ("--bootstrap", kafka_bootstrap, "--dlq-topic", dead, "--group", group)

    assert (await _replay_cli(*args, "--limit", "1"))[0] == 0
    assert await committed_offsets(kafka_bootstrap, group, dead) == {0: 1}
    assert [r.value for r in await read_topic(kafka_bootstrap, source)] == [b'{"a":1}']

    code, out, _ = await _replay_cli(*args)
    assert code == 0
    assert out.splitlines()[-1].startswith("replayed 2 of 2 chosen, 3 dead letter(s) read")
    assert await committed_offsets(kafka_bootstrap, group, dead) == {0: 4}
    assert [r.value for r in await read_topic(kafka_bootstrap, source)] == [
        b'{"a":1}',
        b'{"c":1}',
        b'{"d":1}',
    ]

    code, out, _ = await _replay_cli(*args)
    assert code == 0
    assert out.splitlines()[-1].startswith("replayed 0 of 0 chosen, 0 dead letter(s) read")
    assert len(await read_topic(kafka_bootstrap, source)) == 3


def test_marks_stop_at_the_first_unacknowledged_item_of_a_partition() -> None:
    """A plan's marks: past everything looked at, except at a partition's first unacked item."""
    record = ConsumerRecord
    records = [
        record(dead, p, o, 0, 0, b"k", b"v", None, -1, 1, [("dlq.source.topic", b"s"), *h])
        for dead, p, o, h in [
            ("d", 0, 0, [("dlq.reason", b"http_4xx")]),
            ("d", 0, 1, [("dlq.reason", b"expired")]),
            ("d", 0, 2, [("dlq.reason", b"http_4xx")]),
            ("d", 1, 5, [("dlq.reason", b"max_attempts")]),
            ("d", 1, 6, [("dlq.reason", b"invalid_json")]),
        ]
    ]
    plan = plan_replay(records, dlq_topic="d", select=ReplayFilter())
    assert [(i.partition, i.offset) for i in plan.items] == [(0, 0), (0, 2), (1, 5)]
    assert plan.skipped == {"expired": 1, "invalid_json": 1}
    assert plan.marks(3) == {0: 3, 1: 7}
    assert plan.marks(1) == {0: 2, 1: 5}
    assert plan.marks(0) == {0: 0, 1: 5}
    limited = plan_replay(records, dlq_topic="d", select=ReplayFilter(), limit=1)
    assert limited.marks(1) == {0: 1}  # nothing after the limit was looked at
    assert limited.read == 5
