"""The naive baseline: per partition, one record at a time: fetch, sign, POST, await, commit.

The seed's client style: one `httpx.AsyncClient` with its default pool, a signed POST awaited
before the next record of the partition is looked at, a commit after each record.
`python -m bench.naive BOOTSTRAP TOPIC GROUP URL FETCH_MAX_WAIT_MS FETCH_MIN_BYTES` delivers
until it is stopped; what it delivered is counted at the server, as the relay's is.
"""

from __future__ import annotations

import asyncio
import sys
import time

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.answerer import run
from bench.records import SECRET
from consumer.service import prepare_signal
from signing.signer import RequestSigner

__all__ = ["main"]

_PATH = "/api/v1/signals/ingest"
_ASSIGN_SECONDS = 60.0


async def _relay_naively(
    bootstrap: str, topic: str, group: str, url: str, wait_ms: int, min_bytes: int
) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=wait_ms,
        fetch_min_bytes=min_bytes,
    )
    signer = RequestSigner(SECRET, producer_id="bench-naive", endpoint=_PATH)
    await consumer.start()
    try:
        async with asyncio.timeout(_ASSIGN_SECONDS):
            # The group join runs in aiokafka's background coordinator; nothing to await.
            while not consumer.assignment():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        async with httpx.AsyncClient() as client:

            async def partition(tp: TopicPartition) -> None:
                while True:
                    record = await consumer.getone(tp)
                    signal = prepare_signal(record.value, 65536).signal
                    headers = signer.headers(
                        signal.body, signal_id=signal.signal_id, at=time.time()
                    )
                    response = await client.post(url + _PATH, content=signal.body, headers=headers)
                    if response.status_code != 201:
                        raise RuntimeError(f"naive delivery got HTTP {response.status_code}")
                    await consumer.commit({tp: record.offset + 1})

            await asyncio.gather(*(partition(tp) for tp in consumer.assignment()))
    finally:
        await consumer.stop()


def main(argv: list[str]) -> int:
    """See the module docstring."""
    bootstrap, topic, group, url = argv[:4]
    run(_relay_naively(bootstrap, topic, group, url, int(argv[4]), int(argv[5])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
