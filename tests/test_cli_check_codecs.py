"""`signal-relay check` names the compression codecs the process can decompress; a lack fails.

The failing case runs the check as a process whose `import cramjam` fails (the library aiokafka
decompresses snappy, lz4 and zstd with), as in an install without aiokafka's codec extras; the
relay itself would hold such batches' partitions (tests/test_relay_codec_missing.py).
"""

from __future__ import annotations

from pathlib import Path

from check_command import run_check, verdicts
from conftest import RunningReceiver, TopicFactory
from relay_harness import relay_env


async def test_every_codec_is_one_ok_line(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver
) -> None:
    """With cramjam installed: `ok   codecs: gzip, snappy, lz4, zstd`, after the isolation line."""
    topic = await new_topic(1)
    status, lines = await run_check(relay_env(kafka_bootstrap, topic, receiver.url))
    assert status == 0, lines
    assert lines[2] == "ok   codecs: gzip, snappy, lz4, zstd"


async def test_missing_codecs_fail_the_check_and_name_the_extras(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver, tmp_path: Path
) -> None:
    """Without cramjam: the codecs line alone fails, naming the three codecs and the fix; exit 1."""
    topic = await new_topic(1)
    blocked = tmp_path / "no-codecs"
    blocked.mkdir()
    (blocked / "cramjam.py").write_text('raise ImportError("cramjam is not installed here")\n')
    env = relay_env(kafka_bootstrap, topic, receiver.url, PYTHONPATH=str(blocked))
    status, lines = await run_check(env)
    assert status == 1, lines
    assert [name for name, verdict in verdicts(lines).items() if verdict == "FAIL"] == ["codecs"]
    assert lines[2] == (
        "FAIL codecs: snappy, lz4, zstd missing: install aiokafka[lz4,snappy,zstd] (cramjam); "
        "their batches would hold their partitions"
    )
