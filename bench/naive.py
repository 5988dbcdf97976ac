"""The naive baseline: per partition, one record at a time: fetch, sign, POST, await, commit.

The seed's client style: one `httpx.AsyncClient` with its default pool, a signed POST awaited
before the next record of the partition is even looked at, and a commit after each record.
Run as a child process (`python -m bench.naive BOOTSTRAP TOPIC GROUP URL SECONDS
[FETCH_MAX_WAIT_MS FETCH_MIN_BYTES]`, aiokafka's defaults without them); it stops after SECONDS
of deliveries and prints one JSON line: counts, rate and fetch-to-201 latencies.
"""

from __future__ import annotations

import asyncio
import sys
import time

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.loops import run_fast
from bench.records import SECRET
from schemas.record import parse_candidate
from signing.canonical import canonical_body
from signing.headers import signed_headers
from signing.timestamps import now_timestamp

__all__ = ["main", "relay_naively"]

_PRODUCER_ID = "bench-naive"
_PATH = "/api/v1/signals/ingest"
_ASSIGN_SECONDS = 60.0


async def relay_naively(
    bootstrap: str, topic: str, group: str, url: str, seconds: float, **fetch: int
) -> dict[str, float]:
    """Deliver from every assigned partition, one record at a time, for `seconds`.

    `fetch` (`fetch_max_wait_ms`, `fetch_min_bytes`) goes to the consumer as it is.
    """
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **fetch,
    )
    latencies: list[float] = []
    await consumer.start()
    try:
        async with asyncio.timeout(_ASSIGN_SECONDS):
            # The group join runs in aiokafka's background coordinator; nothing to await.
            while not consumer.assignment():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        async with httpx.AsyncClient() as client:
            stop_at = time.perf_counter() + seconds
            partitions = sorted(consumer.assignment(), key=lambda tp: tp.partition)
            started = time.perf_counter()
            await asyncio.gather(
                *(_partition(consumer, tp, client, url, stop_at, latencies) for tp in partitions)
            )
            elapsed = time.perf_counter() - started
    finally:
        await consumer.stop()
    latencies.sort()
    return {
        "delivered": len(latencies),
        "seconds": elapsed,
        "rate": len(latencies) / elapsed,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


async def _partition(
    consumer: AIOKafkaConsumer,
    tp: TopicPartition,
    client: httpx.AsyncClient,
    url: str,
    stop_at: float,
    latencies: list[float],
) -> None:
    secret = SECRET.encode()
    while (left := stop_at - time.perf_counter()) > 0:
        try:
            record = await asyncio.wait_for(consumer.getone(tp), left)
        except TimeoutError:
            return  # the partition ran dry before the time was up
        fetched = time.perf_counter()
        signal = canonical_body(parse_candidate(record.value))
        headers = signed_headers(
            secret,
            signal.body,
            signal_id=signal.signal_id,
            producer_id=_PRODUCER_ID,
            endpoint=_PATH,
            timestamp=now_timestamp(),
        )
        response = await client.post(url + _PATH, content=signal.body, headers=headers)
        if response.status_code != 201:
            raise RuntimeError(f"naive delivery got HTTP {response.status_code}")
        latencies.append(time.perf_counter() - fetched)
        await consumer.commit({tp: record.offset + 1})


def main(argv: list[str]) -> int:
    """`python -m bench.naive BOOTSTRAP TOPIC GROUP URL SECONDS [FETCH_WAIT_MS FETCH_MIN_BYTES]`."""
    bootstrap, topic, group, url, seconds = argv[0], argv[1], argv[2], argv[3], float(argv[4])
    fetch = {}
    if len(argv) > 5:
        fetch = {"fetch_max_wait_ms": int(argv[5]), "fetch_min_bytes": int(argv[6])}
    result = run_fast(relay_naively(bootstrap, topic, group, url, seconds, **fetch))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
