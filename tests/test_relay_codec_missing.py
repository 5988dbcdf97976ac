"""A codec the process lacks is a deployment fault: the partition waits, nothing is dead-lettered.

The relay runs as a process whose `import cramjam` fails (the library aiokafka decompresses
snappy, lz4 and zstd with), as in an install without aiokafka's codec extras. An lz4 batch
written by librdkafka then holds its partition: nothing of it is committed or dead-lettered,
/readyz names the codec, the `codec_missing` alert goes out; the other partition is delivered.
The same records are delivered by a process that has the codec.
"""

from __future__ import annotations

import asyncio
import signal as signals
from pathlib import Path

import httpx
from alert_inbox import AlertInbox
from conftest import RunningReceiver, TopicFactory, eventually_async
from foreign_producer import ForeignRecord, produce_foreign
from relay_harness import (
    encode,
    expected_signal_id,
    free_port,
    relay_env,
    relay_process,
    signal,
)

from consumer.tools import committed_offsets, read_topic
from signing.receiver.serve import serve_in_thread

PER_PARTITION = 12


def _records(partition: int) -> list[ForeignRecord]:
    return [
        ForeignRecord(
            f"P{partition}K{seq % 3}".encode(), encode(signal(f"P{partition}", seq)), (), partition
        )
        for seq in range(PER_PARTITION)
    ]


async def _get(url: str) -> httpx.Response | None:
    async with httpx.AsyncClient(timeout=2) as http:
        try:
            return await http.get(url)
        except httpx.TransportError:
            return None


async def test_a_missing_codec_holds_its_partition_until_a_process_can_read_it(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver, tmp_path: Path
) -> None:
    """lz4 without cramjam: held (503, alert, no DLQ, no commit), then delivered with it."""
    topic = await new_topic(2)
    lz4 = await asyncio.to_thread(produce_foreign, kafka_bootstrap, topic, _records(0), codec="lz4")
    plain = await asyncio.to_thread(produce_foreign, kafka_bootstrap, topic, _records(1))
    ends = {0: lz4[-1].offset + 1, 1: plain[-1].offset + 1}
    blocked = tmp_path / "no-codecs"
    blocked.mkdir()
    (blocked / "cramjam.py").write_text('raise ImportError("cramjam is not installed here")\n')
    port = free_port()
    inbox = AlertInbox()
    ledger = receiver.app.ledger
    with serve_in_thread(inbox) as alerts_url:
        env = relay_env(
            kafka_bootstrap,
            topic,
            receiver.url,
            RELAY_METRICS_PORT=port,
            RELAY_METRICS_HOST="127.0.0.1",
            ALERT_WEBHOOK_URL=alerts_url,
            PYTHONPATH=str(blocked),
        )
        with relay_process(env, tmp_path / "without.log") as relay:

            async def plain_partition_done() -> bool:
                offsets = await committed_offsets(kafka_bootstrap, env["KAFKA_GROUP_ID"], topic)
                return offsets.get(1) == ends[1]

            await eventually_async(plain_partition_done, 60, "partition 1 committed to its end")
            ready = None

            async def not_ready_for_lz4() -> bool:
                nonlocal ready
                ready = await _get(f"http://127.0.0.1:{port}/readyz")
                return ready is not None and ready.status_code == 503 and "lz4" in ready.text

            await eventually_async(not_ready_for_lz4, 30, "/readyz to name the lz4 codec")
            assert ready is not None
            assert f"{topic}/0" in ready.text
            await inbox.wait_for(
                lambda posts: any("codec_missing" in str(p.body) for p in posts), 30
            )

            async def counted_held() -> bool:
                metrics = await _get(f"http://127.0.0.1:{port}/metrics")
                return (
                    metrics is not None and "signal_relay_codec_held_partitions 1.0" in metrics.text
                )

            await eventually_async(counted_held, 10, "the held partition in the metrics")
            offsets = await committed_offsets(kafka_bootstrap, env["KAFKA_GROUP_ID"], topic)
            assert offsets.get(0, 0) == 0
            relay.send_signal(signals.SIGTERM)
            assert await asyncio.to_thread(relay.wait, 30) == 0
        log = (tmp_path / "without.log").read_text()
        assert '"codec_missing"' in log
    assert await read_topic(kafka_bootstrap, f"{topic}.dlq") == []
    accepted = {s.signal_id for s in ledger.accepted}
    assert accepted == {expected_signal_id(r.record.value or b"") for r in plain}

    # A process with the codec resumes the held partition where it stood.
    env = relay_env(kafka_bootstrap, topic, receiver.url)
    with relay_process(env, tmp_path / "with.log"):

        async def all_done() -> bool:
            offsets = await committed_offsets(kafka_bootstrap, env["KAFKA_GROUP_ID"], topic)
            return offsets == ends

        await eventually_async(all_done, 60, "every partition committed to its end")
    want = {expected_signal_id(r.record.value or b"") for r in lz4 + plain}
    await asyncio.to_thread(ledger.wait_until, lambda led: led.accepted_count >= len(want), 10)
    assert {s.signal_id for s in ledger.accepted} == want
    assert await read_topic(kafka_bootstrap, f"{topic}.dlq") == []
