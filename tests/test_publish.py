"""`signal-relay publish`: valid JSONL is published keyed by instrument; one bad line, none is."""

import asyncio
import os
import sys
from pathlib import Path

import pytest
from conftest import TopicFactory
from relay_harness import encode, signal

from consumer.tools import check_lines, read_topic

GOOD = [
    encode(signal("EURUSD", 1)),
    encode(signal("BTC-USD", 2, side="sell", stop_loss="101", take_profit="99")),
    encode(signal("XAU/USD", 3)),
]


async def _publish_cli(
    bootstrap: str, *args: str, stdin: bytes | None = None
) -> tuple[int, str, str]:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "consumer",
        "publish",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin or b""), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def test_blank_lines_are_skipped_and_counted_in_line_numbers() -> None:
    """Blank lines publish nothing but keep the line numbers of the input."""
    checked = check_lines(b"\n" + GOOD[0] + b"\r\n  \n{oops\n")
    assert [(line.number, line.problem is None) for line in checked] == [(2, True), (4, False)]
    assert checked[0].value == GOOD[0]
    assert checked[0].key == b"EURUSD"
    assert str(checked[1]).startswith("line 4: record value is not JSON")


async def test_good_file_is_published_keyed_by_instrument(
    kafka_bootstrap: str, new_topic: TopicFactory, tmp_path: Path
) -> None:
    """Every line of a valid file is published, in order, keyed by its instrument."""
    topic = await new_topic(1)
    source = tmp_path / "signals.jsonl"
    source.write_bytes(b"\n".join(GOOD) + b"\n\n")

    code, out, err = await _publish_cli(kafka_bootstrap, str(source), "--topic", topic)

    assert (code, err) == (0, "")
    assert out == f"published 3 record(s) to {topic}\n"
    records = await read_topic(kafka_bootstrap, topic)
    assert [(r.key, r.value) for r in records] == [
        (b"EURUSD", GOOD[0]),
        (b"BTC-USD", GOOD[1]),
        (b"XAU/USD", GOOD[2]),
    ]


async def test_bad_lines_are_all_reported_and_nothing_is_published(
    kafka_bootstrap: str, new_topic: TopicFactory, tmp_path: Path
) -> None:
    """Two bad lines: both reported by number, exit 1, and not even the good lines are sent."""
    topic = await new_topic(1)
    unknown_field = encode(signal("AAPL", 4, leverage=20))
    source = tmp_path / "mixed.jsonl"
    source.write_bytes(b"\n".join([GOOD[0], b'{"instrument": "EURUSD",', GOOD[1], unknown_field]))

    code, out, err = await _publish_cli(kafka_bootstrap, str(source), "--topic", topic)

    assert code == 1
    assert out == ""
    lines = err.splitlines()
    assert lines[0].startswith("line 2: record value is not JSON")
    assert lines[1].startswith("line 4: ")
    assert "leverage: unknown field" in lines[1]
    assert lines[2] == "signal-relay: 2 bad line(s) of 4; nothing published"
    assert await read_topic(kafka_bootstrap, topic) == []


async def test_stdin_is_read_for_dash(
    kafka_bootstrap: str, new_topic: TopicFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`publish -` reads JSONL from stdin; the topic comes from KAFKA_TOPIC here."""
    topic = await new_topic(1)
    monkeypatch.setenv("KAFKA_TOPIC", topic)
    code, out, _ = await _publish_cli(kafka_bootstrap, "-", stdin=GOOD[2] + b"\n")

    assert code == 0
    assert out == f"published 1 record(s) to {topic}\n"
    (record,) = await read_topic(kafka_bootstrap, topic)
    assert (record.key, record.value) == (b"XAU/USD", GOOD[2])


async def test_allow_invalid_publishes_bad_lines_as_they_are(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """With --allow-invalid the bad lines are still reported, then sent raw and unkeyed."""
    topic = await new_topic(1)
    bad = b"not json at all"
    code, out, err = await _publish_cli(
        kafka_bootstrap, "-", "--topic", topic, "--allow-invalid", stdin=bad + b"\n" + GOOD[0]
    )

    assert code == 0
    assert err.startswith("line 1: ")
    assert "1 invalid" in out
    records = await read_topic(kafka_bootstrap, topic)
    assert [(r.key, r.value) for r in records] == [(None, bad), (b"EURUSD", GOOD[0])]
